"""Packs files of this machine into a single-layer OCI image archive, for the real node's
containerd (`ctr -n k8s.io images import`): nothing is pulled, every image is built here.

    python3 testenv/ociimage.py OUT.tar NAME:TAG --file SRC=DEST [--file ...] [--link DEST=TARGET ...]
                                [--entrypoint JSON] [--cmd JSON]

SRC is a file of this machine (a static binary: the image has nothing else), DEST its absolute
path in the image. --link makes DEST a symlink to TARGET. The archive is an OCI image layout
(oci-layout, index.json, blobs/sha256/...) whose index names the image NAME:TAG through the
io.containerd.image.name and org.opencontainers.image.ref.name annotations. The output is
reproducible: fixed mtimes, owners and order. It is written to OUT.tar.tmp and renamed at the end.
"""
import argparse
import hashlib
import io
import json
import os
import sys
import tarfile

parser = argparse.ArgumentParser()
parser.add_argument("out")
parser.add_argument("name")
parser.add_argument("--file", action="append", default=[], help="SRC=DEST")
parser.add_argument("--link", action="append", default=[], help="DEST=TARGET")
parser.add_argument("--entrypoint", default="null")
parser.add_argument("--cmd", default="null")
args = parser.parse_args()


def fail(msg):
    print(f"ociimage.py: error: {msg}", file=sys.stderr)
    sys.exit(1)


def pair(text, what):
    if "=" not in text:
        fail(f"{what} {text!r} is not of the form A=B")
    a, b = text.split("=", 1)
    return a, b


entries = {}  # path in the image (no leading /) -> ("file", src) | ("link", target) | ("dir", None)
def add_parents(path):
    parts = path.split("/")[:-1]
    for i in range(1, len(parts) + 1):
        entries.setdefault("/".join(parts[:i]), ("dir", None))

for f in args.file:
    src, dest = pair(f, "--file")
    if not os.path.isfile(src):
        fail(f"--file source {src} is not a file")
    dest = dest.strip("/")
    add_parents(dest)
    entries[dest] = ("file", src)
for l in args.link:
    dest, target = pair(l, "--link")
    dest = dest.strip("/")
    add_parents(dest)
    entries[dest] = ("link", target)
for d in ("tmp", "etc", "proc", "sys", "dev"):  # mount points the runtime expects
    entries.setdefault(d, ("dir", None))

layer_buf = io.BytesIO()
with tarfile.open(fileobj=layer_buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
    for path in sorted(entries):
        kind, arg = entries[path]
        info = tarfile.TarInfo(path)
        info.mtime = 0
        info.uid = info.gid = 0
        info.uname = info.gname = "root"
        if kind == "dir":
            info.type = tarfile.DIRTYPE
            info.mode = 0o1777 if path == "tmp" else 0o755
            tar.addfile(info)
        elif kind == "link":
            info.type = tarfile.SYMTYPE
            info.linkname = arg
            info.mode = 0o777
            tar.addfile(info)
        else:
            with open(arg, "rb") as fh:
                data = fh.read()
            info.size = len(data)
            info.mode = 0o755
            tar.addfile(info, io.BytesIO(data))
layer = layer_buf.getvalue()

blobs = {}
def blob(data):
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    blobs[digest] = data
    return digest

layer_digest = blob(layer)
config = {
    "architecture": "amd64",
    "os": "linux",
    "config": {
        "Env": ["PATH=/bin:/usr/bin:/sbin:/usr/sbin"],
        "Entrypoint": json.loads(args.entrypoint),
        "Cmd": json.loads(args.cmd),
        "WorkingDir": "/",
    },
    "rootfs": {"type": "layers", "diff_ids": [layer_digest]},
    "history": [{"created_by": "keelson testenv/ociimage.py"}],
}
config_bytes = json.dumps(config, sort_keys=True).encode()
config_digest = blob(config_bytes)
manifest = {
    "schemaVersion": 2,
    "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest,
               "size": len(config_bytes)},
    "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer_digest,
                "size": len(layer)}],
}
manifest_bytes = json.dumps(manifest, sort_keys=True).encode()
manifest_digest = blob(manifest_bytes)
tag = args.name.rsplit(":", 1)[1] if ":" in args.name.rsplit("/", 1)[-1] else "latest"
index = {
    "schemaVersion": 2,
    "mediaType": "application/vnd.oci.image.index.v1+json",
    "manifests": [{
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "digest": manifest_digest,
        "size": len(manifest_bytes),
        "platform": {"architecture": "amd64", "os": "linux"},
        "annotations": {"io.containerd.image.name": args.name,
                        "org.opencontainers.image.ref.name": tag},
    }],
}

tmp = args.out + ".tmp"
with tarfile.open(tmp, mode="w", format=tarfile.PAX_FORMAT) as out:
    def put(path, data):
        info = tarfile.TarInfo(path)
        info.mtime = 0
        info.mode = 0o644
        info.size = len(data)
        out.addfile(info, io.BytesIO(data))
    put("oci-layout", json.dumps({"imageLayoutVersion": "1.0.0"}).encode())
    put("index.json", json.dumps(index, sort_keys=True).encode())
    for digest in sorted(blobs):
        put("blobs/sha256/" + digest.split(":", 1)[1], blobs[digest])
os.replace(tmp, args.out)
print(manifest_digest)
