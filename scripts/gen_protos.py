"""Regenerate the committed gRPC stubs in services/genleak/v1 from protos/genleak/v1.

Protos are compiled with `protos/` as the include root, so the generated imports read
`from genleak.v1 import common_pb2` and work from the installed package.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROTO_ROOT = ROOT / "protos"
OUT = ROOT / "services"


def proto_files() -> list[str]:
    return sorted(str(p.relative_to(PROTO_ROOT)) for p in (PROTO_ROOT / "genleak" / "v1").glob("*.proto"))


def generate(out_dir: Path = OUT) -> None:
    import grpc_tools
    from grpc_tools import protoc

    include = str(Path(grpc_tools.__file__).parent / "_proto")
    args = ["protoc", f"-I{PROTO_ROOT}", f"-I{include}", f"--python_out={out_dir}",
            f"--grpc_python_out={out_dir}", f"--pyi_out={out_dir}", *proto_files()]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed")
    init = out_dir / "genleak" / "v1" / "__init__.py"
    init.write_text('"""Generated gRPC stubs (scripts/gen_protos.py). Do not edit."""\n')


if __name__ == "__main__":
    generate(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT)
