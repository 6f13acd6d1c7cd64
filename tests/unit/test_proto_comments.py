"""Every service, RPC, message, field, oneof, enum and enum value in protos/ carries a comment (issue 16,
item 2), and every `params` Struct names the contract that describes it.

The protos are compiled with protoc's source info (grpc_tools, as scripts/gen_protos.py does), so a
comment counts exactly when protoc attaches it to the element: a leading comment (the lines right above
it, no blank line between) or a trailing one (after it on the same line).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from google.protobuf import descriptor_pb2

from genleak.contracts.catalog import JOB_CONTRACTS

ROOT = Path(__file__).resolve().parents[2]
PROTO_ROOT = ROOT / "protos"

# Field numbers of the descriptor messages, as SourceCodeInfo paths use them.
FILE_MESSAGE, FILE_ENUM, FILE_SERVICE = 4, 5, 6
MESSAGE_FIELD, MESSAGE_NESTED, MESSAGE_ENUM, MESSAGE_ONEOF = 2, 3, 4, 8
ENUM_VALUE, SERVICE_METHOD = 2, 2


def compile_with_source_info(proto_root: Path, out: Path) -> descriptor_pb2.FileDescriptorSet:
    import grpc_tools
    from grpc_tools import protoc

    files = sorted(str(p.relative_to(proto_root)) for p in proto_root.rglob("*.proto"))
    include = str(Path(grpc_tools.__file__).parent / "_proto")
    target = out / "descriptors.pb"
    args = ["protoc", f"-I{proto_root}", f"-I{include}", "--include_source_info", f"--descriptor_set_out={target}",
            *files]
    assert protoc.main(args) == 0, "protoc failed"
    return descriptor_pb2.FileDescriptorSet.FromString(target.read_bytes())


def elements(file: descriptor_pb2.FileDescriptorProto):
    """(path, what, full name) of every element that must carry a comment."""
    package = file.package

    def message(msg, path, scope):
        name = f"{scope}.{msg.name}"
        yield path, "message", name
        for i, field in enumerate(msg.field):
            yield (*path, MESSAGE_FIELD, i), "field", f"{name}.{field.name}"
        for i, oneof in enumerate(msg.oneof_decl):
            if not any(f.HasField("oneof_index") and f.oneof_index == i and f.proto3_optional for f in msg.field):
                yield (*path, MESSAGE_ONEOF, i), "oneof", f"{name}.{oneof.name}"  # not proto3 `optional`'s
        for i, nested in enumerate(msg.nested_type):
            if not nested.options.map_entry:  # map<k, v>'s entry type is synthetic
                yield from message(nested, (*path, MESSAGE_NESTED, i), name)
        for i, enum_type in enumerate(msg.enum_type):
            yield from enum(enum_type, (*path, MESSAGE_ENUM, i), name)

    def enum(enum_type, path, scope):
        name = f"{scope}.{enum_type.name}"
        yield path, "enum", name
        for i, value in enumerate(enum_type.value):
            yield (*path, ENUM_VALUE, i), "enum value", f"{name}.{value.name}"

    for i, msg in enumerate(file.message_type):
        yield from message(msg, (FILE_MESSAGE, i), package)
    for i, enum_type in enumerate(file.enum_type):
        yield from enum(enum_type, (FILE_ENUM, i), package)
    for i, service in enumerate(file.service):
        yield (FILE_SERVICE, i), "service", f"{package}.{service.name}"
        for j, method in enumerate(service.method):
            yield (FILE_SERVICE, i, SERVICE_METHOD, j), "rpc", f"{package}.{service.name}.{method.name}"


def comments(file: descriptor_pb2.FileDescriptorProto) -> dict[tuple[int, ...], str]:
    """Path -> the element's leading and trailing comments (detached comments do not count)."""
    return {tuple(loc.path): (loc.leading_comments + loc.trailing_comments).strip()
            for loc in file.source_code_info.location}


def uncommented(files: descriptor_pb2.FileDescriptorSet) -> list[str]:
    missing = []
    for file in files.file:
        if not file.name.startswith("genleak/"):
            continue
        found = comments(file)
        missing += [f"{file.name}: {what} {name}" for path, what, name in elements(file) if not found.get(path)]
    return missing


@pytest.fixture(scope="module")
def descriptors(tmp_path_factory) -> descriptor_pb2.FileDescriptorSet:
    return compile_with_source_info(PROTO_ROOT, tmp_path_factory.mktemp("protos"))


def _field_comments(descriptors) -> dict[str, tuple[str, str]]:
    """Full field name -> (type name, comment) for every field of every genleak message."""
    out = {}
    for file in descriptors.file:
        found = comments(file)
        for path, what, name in elements(file):
            if what == "field":
                msg = file.message_type[path[1]]
                for step in range(2, len(path) - 2, 2):  # nested messages
                    msg = msg.nested_type[path[step + 1]]
                out[name] = (msg.field[path[-1]].type_name, found.get(path, ""))
    return out


def test_every_element_of_every_proto_has_a_comment(descriptors):
    files = [f.name for f in descriptors.file if f.name.startswith("genleak/")]
    assert len(files) == 5
    assert uncommented(descriptors) == []


def test_every_params_struct_names_its_contract_and_schema(descriptors):
    """A request's `params` Struct: the contract class (genleak.contracts...) and, for every job in the
    catalog, the `genleak schema JOB` command that prints its JSON Schema."""
    fields = _field_comments(descriptors)
    structs = {name: comment for name, (type_name, comment) in fields.items()
               if type_name == ".google.protobuf.Struct" and name.endswith(".params")}
    assert len(structs) >= 10
    for name, comment in structs.items():
        assert "genleak.contracts." in comment, f"{name} does not name its contract"
    methods = {f"{f.package}.{s.name}/{m.name}": m.input_type.lstrip(".")
               for f in descriptors.file for s in f.service for m in s.method}
    for job, contract in JOB_CONTRACTS.items():
        request = methods[contract.rpc]
        assert f"`genleak schema {job}`" in structs[f"{request}.params"], f"{request}.params: genleak schema {job}"


def test_the_checker_finds_what_lacks_a_comment(tmp_path):
    """The check itself: an undocumented rpc, message, field, enum value and oneof are each reported."""
    root = tmp_path / "protos"
    (root / "genleak" / "v1").mkdir(parents=True)
    (root / "genleak" / "v1" / "bare.proto").write_text(
        'syntax = "proto3";\npackage genleak.v1;\n\n'
        "// Documented.\nservice Bare {\n  rpc Call(Req) returns (Req);\n}\n\n"
        "message Req {\n  string a = 1;  // trailing counts\n  // leading counts\n  int32 b = 2;\n\n"
        "  // detached: a blank line follows\n\n  int32 c = 3;\n  oneof pick {\n    // x\n    string x = 4;\n  }\n"
        "  optional bool o = 5;  // proto3 optional: no oneof to document\n  map<string, int32> m = 6;\n}\n\n"
        "// An enum.\nenum E {\n  E_UNSPECIFIED = 0;\n}\n")
    missing = uncommented(compile_with_source_info(root, tmp_path))
    assert [m.removeprefix("genleak/v1/bare.proto: ") for m in missing] == [
        "message genleak.v1.Req", "field genleak.v1.Req.c", "field genleak.v1.Req.m", "oneof genleak.v1.Req.pick",
        "enum value genleak.v1.E.E_UNSPECIFIED", "rpc genleak.v1.Bare.Call"]
