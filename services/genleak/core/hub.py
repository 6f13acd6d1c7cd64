"""Models from the Hugging Face Hub: `hf://org/name` or `hf://org/name@revision`, where a hub is reachable.

Only safetensors weights, configs and tokenizer files are downloaded (never `*.bin`/`*.pt`
pickles), into `<cache_dir>/hf`; a second use reads the local copy without the network. Where no
hub is reachable (this project's CI, air-gapped clusters) the error says so and names the model,
and a model already in the cache still resolves (`HF_HUB_OFFLINE=1` is honoured).
"""

from __future__ import annotations

import re
from pathlib import Path

from genleak.core.errors import InvalidSpec, ModelNotFound

HF_PREFIX = "hf://"
ALLOW_PATTERNS = ["*.json", "*.safetensors", "tokenizer*", "*.txt", "*.model", "*.tiktoken", "*.jinja"]
_REPO = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")
_REVISION = re.compile(r"^[A-Za-z0-9._/-]{1,128}$")


def is_hf_uri(uri: str) -> bool:
    return uri.startswith(HF_PREFIX)


def parse_hf_uri(uri: str, where: str = "model.uri") -> tuple[str, str | None]:
    """`hf://EleutherAI/pythia-1.4b@step143000` -> ("EleutherAI/pythia-1.4b", "step143000")."""
    body = uri[len(HF_PREFIX):]
    repo, _, revision = body.partition("@")
    if not _REPO.match(repo) or ".." in repo:
        raise InvalidSpec(f"{uri!r} is not hf://<org>/<name>[@revision]", field=where)
    if revision and (not _REVISION.match(revision) or ".." in revision):
        raise InvalidSpec(f"{uri!r} has an invalid revision {revision!r}", field=where)
    return repo, revision or None


def fetch_hf_model(uri: str, cache_dir: Path, where: str = "model.uri") -> Path:
    """The local folder of an hf:// model (downloaded once, safetensors only)."""
    repo, revision = parse_hf_uri(uri, where)
    try:
        from huggingface_hub import snapshot_download
    except ImportError as exc:  # pragma: no cover - comes with transformers
        raise ModelNotFound(f"{where}: {uri} needs huggingface_hub ({exc})") from None
    try:
        folder = snapshot_download(repo, revision=revision, allow_patterns=ALLOW_PATTERNS,
                                   cache_dir=str(Path(cache_dir) / "hf"))
    except Exception as exc:  # noqa: BLE001 - network, auth, missing repo: all mean "not available here"
        raise ModelNotFound(f"{where}: {uri} could not be fetched from the Hugging Face Hub and is not in the "
                            f"local cache ({type(exc).__name__}: {str(exc)[:300]}); where no hub is reachable, "
                            "download it elsewhere and give a local folder or a store artifact") from None
    return Path(folder)
