"""Models from the Hugging Face Hub: `hf://org/name` or `hf://org/name@revision`, where a hub is reachable.

Only safetensors weights, configs and tokenizer files are downloaded (never `*.bin`/`*.pt`
pickles), into `<cache_dir>/hf`; a second use reads the local copy without the network. Where no
hub is reachable (this project's CI, air-gapped clusters) the error says so and names the model,
and a model already in the cache still resolves (`HF_HUB_OFFLINE=1` is honoured).

A model already in Hugging Face's own hub cache (`$HF_HUB_CACHE`, else `$HF_HOME/hub`) is used from
there first: the images bake `--build-arg PRELOAD_MODELS=...` into it with `hf download` (HF_HOME
is /opt/genleak/hf), read-only, outside the cache volume that is mounted over `<cache_dir>`.

`genleak run` pins a reference without a revision to the commit it means at submission
(`pinned_revision`), so the spec the run records (and its cache keys) name that commit. Gated models
need `HF_TOKEN` in the environment of whatever downloads them; huggingface_hub reads it.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from genleak.core.errors import InvalidSpec, ModelNotFound

HF_PREFIX = "hf://"
ALLOW_PATTERNS = ["*.json", "*.safetensors", "tokenizer*", "*.txt", "*.model", "*.tiktoken", "*.jinja"]
_REPO = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")
_REVISION = re.compile(r"^[A-Za-z0-9._/-]{1,128}$")
_COMMIT = re.compile(r"^[0-9a-f]{40}$")


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


def hf_hub_cache() -> Path:
    """Hugging Face's hub cache, by huggingface_hub's rule (read now, not at its import): $HF_HUB_CACHE,
    else $HF_HOME/hub, else $XDG_CACHE_HOME/huggingface/hub, else ~/.cache/huggingface/hub."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    home = os.environ.get("HF_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(Path.home(), ".cache"), "huggingface")
    return Path(home).expanduser() / "hub"


def _preloaded(repo: str, revision: str | None, snapshot_download) -> Path | None:
    """The model's snapshot in the hub cache (an image's PRELOAD_MODELS), without the network; None if absent."""
    hub = hf_hub_cache()
    if not (hub / ("models--" + repo.replace("/", "--"))).is_dir():
        return None
    try:
        return Path(snapshot_download(repo, revision=revision, allow_patterns=ALLOW_PATTERNS, cache_dir=str(hub),
                                      local_files_only=True))
    except Exception:  # noqa: BLE001 - another revision, an incomplete copy: fetch as usual
        return None


def pinned_revision(repo: str, timeout_s: float = 10.0) -> str | None:
    """The commit `hf://repo` (no revision) means now, so a run can name it: the hub cache's `refs/main`
    (a preloaded model, no network), else the Hub's answer (`HF_TOKEN` reaches gated models); None where
    neither is available (an air-gapped machine without the model)."""
    ref = hf_hub_cache() / ("models--" + repo.replace("/", "--")) / "refs" / "main"
    if ref.is_file() and _COMMIT.match(ref.read_text().strip()):
        return ref.read_text().strip()
    try:
        from huggingface_hub import HfApi

        sha = HfApi().model_info(repo, timeout=timeout_s).sha
    except Exception:  # noqa: BLE001 - offline, gated without a token, missing repo: not pinnable here
        return None
    return sha if sha and _COMMIT.match(sha) else None


def fetch_hf_model(uri: str, cache_dir: Path, where: str = "model.uri") -> Path:
    """The local folder of an hf:// model: preloaded in the hub cache, or downloaded once (safetensors only)."""
    repo, revision = parse_hf_uri(uri, where)
    try:
        from huggingface_hub import snapshot_download
    except ImportError as exc:  # pragma: no cover - comes with transformers
        raise ModelNotFound(f"{where}: {uri} needs huggingface_hub ({exc})") from None
    preloaded = _preloaded(repo, revision, snapshot_download)
    if preloaded is not None:
        return preloaded
    try:
        folder = snapshot_download(repo, revision=revision, allow_patterns=ALLOW_PATTERNS,
                                   cache_dir=str(Path(cache_dir) / "hf"))
    except Exception as exc:  # noqa: BLE001 - network, auth, missing repo: all mean "not available here"
        raise ModelNotFound(f"{where}: {uri} could not be fetched from the Hugging Face Hub and is not in the "
                            f"local cache ({type(exc).__name__}: {str(exc)[:300]}); where no hub is reachable, "
                            "download it elsewhere and give a local folder or a store artifact") from None
    return Path(folder)
