"""Store: checkpoint upload/download through genleak's S3 backend vs a local copy of the same files.

The endpoint is moto's ThreadedMotoServer on loopback (what the tests use; it keeps objects in
RAM, so this measures genleak's client side: sha256 manifest, minio multipart, verification on
download, plus moto's HTTP handling, not a disk-backed MinIO). Two checkpoints: the lab target's
model folder (a few MB, what the demo moves) and a SmolLM2-135M-sized one (270 MB bf16
safetensors, random bytes: only the size matters). Baseline: shutil.copytree of the same folder.
Also shown: the file:// store (the embedded default), and a bare minio client putting/getting the
same files on the same endpoint, which separates genleak's own cost (hashing, manifest,
verification) from the endpoint's. No target in the issue: ratios reported.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
import uuid
from pathlib import Path

import common

MB = 1024 * 1024


def make_checkpoints(tmp: Path, quick: bool) -> dict[str, Path]:
    world = common.lab_world(tmp / "world", roles=("target",))
    big = tmp / "smollm2-sized"
    shutil.copytree(world["target"], big, ignore=shutil.ignore_patterns("*.safetensors"))
    size = (64 if quick else 270) * MB
    with open(big / "model.safetensors", "wb") as fh:  # written in chunks: no 270 MB string in memory
        for _ in range(size // (16 * MB)):
            fh.write(os.urandom(16 * MB))
        fh.write(os.urandom(size % (16 * MB)))
    return {"lab target": world["target"], f"{size // MB} MB model": big}


def folder_size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def sha256_all(folder: Path) -> None:
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            with open(p, "rb") as fh:
                hashlib.file_digest(fh, "sha256")


def raw_put(client, bucket: str, folder: Path) -> None:
    client.make_bucket(bucket)
    for p in folder.iterdir():
        client.fput_object(bucket, p.name, str(p), part_size=16 * MB)  # genleak's default part size


def raw_get(client, bucket: str, folder: Path, dest: Path) -> None:
    for p in folder.iterdir():
        client.fget_object(bucket, p.name, str(dest / p.name))


def main() -> None:
    args = common.parse_args(__doc__)
    from minio import Minio
    from moto.server import ThreadedMotoServer

    from genleak.core.settings import StoreSettings
    from genleak.core.store import ArtifactStore

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto logs every request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    client = Minio(f"{host}:{port}", access_key="testing", secret_key="testing", secure=False, region="us-east-1")
    repeats = 2 if args.quick else 3
    rows, out = [], {}
    try:
        with tempfile.TemporaryDirectory(prefix="bench-store-", dir=common.BENCH / "out"
                                         if (common.BENCH / "out").is_dir() else None) as tmp_s:
            tmp = Path(tmp_s)
            checkpoints = make_checkpoints(tmp, args.quick)

            def s3_store(tag: str) -> ArtifactStore:
                # a fresh bucket and cache per repeat: nothing is answered from a previous round
                return ArtifactStore(StoreSettings(
                    root=f"s3://bench-{uuid.uuid4().hex[:10]}/genleak", cache_dir=tmp / f"cache-{tag}",
                    s3_endpoint=f"{host}:{port}", s3_access_key="testing", s3_secret_key="testing",
                    s3_secure=False, s3_region="us-east-1"))

            def file_store(tag: str) -> ArtifactStore:
                return ArtifactStore(StoreSettings(root=f"file://{tmp}/store-{tag}", cache_dir=tmp / f"fc-{tag}"))

            for label, ckpt in checkpoints.items():
                times: dict[str, list[float]] = {}

                def clock(key, fn):
                    best, result = common.best_of(fn, 1)
                    times.setdefault(key, []).append(best)
                    return result

                for r in range(repeats):
                    tag = f"{label.replace(' ', '_')}-{r}"
                    clock("local copy: up", lambda: shutil.copytree(ckpt, tmp / f"copy-{tag}"))
                    clock("local copy: down", lambda: shutil.copytree(tmp / f"copy-{tag}", tmp / f"back-{tag}"))
                    clock("sha256 of the files", lambda: sha256_all(ckpt))
                    bucket = f"raw-{uuid.uuid4().hex[:10]}"
                    clock("bare minio: up", lambda: raw_put(client, bucket, ckpt))
                    clock("bare minio: down", lambda: raw_get(client, bucket, ckpt, tmp / f"back-{tag}-raw"))
                    shutil.rmtree(tmp / f"back-{tag}-raw", ignore_errors=True)
                    for kind, make in (("s3", s3_store), ("file", file_store)):
                        store = make(tag)
                        uri = store.uri_for("artifacts", "checkpoint", tag)
                        ref = clock(f"{kind}://: up", lambda: store.publish(ckpt, uri, "checkpoint"))
                        clock(f"{kind}://: down", lambda: store.fetch(ref))
                    for name in (f"copy-{tag}", f"back-{tag}", f"cache-{tag}", f"store-{tag}"):
                        shutil.rmtree(tmp / name, ignore_errors=True)
                size = folder_size(ckpt)
                best = {k: min(v) for k, v in times.items()}
                out[label] = {"bytes": size, "files": len(list(ckpt.iterdir())), "best_s": best, "all_s": times}
                for direction in ("up", "down"):
                    base = best[f"local copy: {direction}"]
                    for key in (f"local copy: {direction}", f"file://: {direction}", f"bare minio: {direction}",
                                f"s3://: {direction}"):
                        rows.append([label, key, best[key], size / MB / best[key], best[key] / base])
                rows.append([label, "sha256 of the files", best["sha256 of the files"],
                             size / MB / best["sha256 of the files"], "-"])
    finally:
        server.stop()

    common.print_table(f"Store: best of {repeats}, moto S3 on loopback",
                       ["checkpoint", "operation", "seconds", "MB/s", "x local copy"], rows)
    for label, res in out.items():
        b = res["best_s"]
        res["s3_up_vs_copy"] = b["s3://: up"] / b["local copy: up"]
        res["s3_down_vs_copy"] = b["s3://: down"] / b["local copy: down"]
        res["s3_up_vs_bare_minio"] = b["s3://: up"] / b["bare minio: up"]
        res["s3_down_vs_bare_minio"] = b["s3://: down"] / b["bare minio: down"]
        print(f"{label}: genleak S3 upload {res['s3_up_vs_copy']:.1f}x, download {res['s3_down_vs_copy']:.1f}x the time "
              f"of a local copy; {res['s3_up_vs_bare_minio']:.2f}x / {res['s3_down_vs_bare_minio']:.2f}x a bare "
              f"minio client on the same endpoint")
    common.write_json("store_s3", {"checkpoints": out, "repeats": repeats,
                                   "endpoint": "moto ThreadedMotoServer (in-memory) on 127.0.0.1"}, args.quick)


if __name__ == "__main__":
    main()
