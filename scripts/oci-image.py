#!/usr/bin/env python3
"""Writes keelson's container image as an OCI image layout, without a container engine.

The image holds one program and what it needs to run, nothing else (no shell, no package
manager): the stripped keelson binary at /usr/local/bin/keelson, the ELF loader and the shared
libraries it links (copied from the build machine, so the image is self-contained), the CA
bundle for HTTPS sources, /etc/passwd and /etc/group naming the non-root user 65534, and an
empty /tmp. Reproducible: every file's time is SOURCE_DATE_EPOCH, owners are 0 or 65534, entries
are sorted and gzip carries no name or time, so two runs on the same commit and binary give
the same digest.

Usage: oci-image.py --binary PATH --out DIR --version V --revision SHA --source URL
                    [--tag TAG] [--push HOST:PORT/REPO:TAG]
"""

import argparse
import gzip
import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
import urllib.error
import urllib.parse
import urllib.request

MEDIA_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MEDIA_CONFIG = "application/vnd.oci.image.config.v1+json"
MEDIA_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
MEDIA_INDEX = "application/vnd.oci.image.index.v1+json"
NOBODY = 65534
CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"


def fail(message):
    print(f"oci-image: error: {message}", file=sys.stderr)
    sys.exit(1)


def shared_libraries(binary):
    """The loader and libraries `binary` links, as (path in the image, path on this machine)."""
    out = subprocess.run(["ldd", binary], capture_output=True, text=True)
    if out.returncode != 0:
        if "not a dynamic executable" in out.stdout + out.stderr:
            return []
        fail(f"ldd {binary}: {out.stderr.strip()}")
    libs = []
    for line in out.stdout.splitlines():
        line = line.strip()
        if "=>" in line:
            target = line.split("=>", 1)[1].strip().split(" ")[0]
            if target and target.startswith("/"):
                libs.append(target)
        elif line.startswith("/"):
            libs.append(line.split(" ")[0])
    # Keep the path the binary asks for (the loader is named by absolute path in the ELF),
    # with the real file's content.
    return sorted({(lib, os.path.realpath(lib)) for lib in libs})


def layer(binary, epoch):
    """The image's only layer, as uncompressed tar bytes."""
    entries = {}  # path in the image -> (kind, data, mode, uid)

    def add_dirs(path):
        parts = path.strip("/").split("/")[:-1]
        for i in range(1, len(parts) + 1):
            entries.setdefault("/".join(parts[:i]), ("dir", None, 0o755, 0))

    def add_file(path, data, mode=0o644, uid=0):
        add_dirs(path)
        entries[path.strip("/")] = ("file", data, mode, uid)

    with open(binary, "rb") as f:
        add_file("/usr/local/bin/keelson", f.read(), 0o755)
    for image_path, real in shared_libraries(binary):
        with open(real, "rb") as f:
            add_file(image_path, f.read(), 0o755)
    if os.path.exists(CA_BUNDLE):
        with open(CA_BUNDLE, "rb") as f:
            add_file(CA_BUNDLE, f.read())
    add_file("/etc/passwd", b"root:x:0:0:root:/root:/sbin/nologin\n"
             b"nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n")
    add_file("/etc/group", b"root:x:0:\nnogroup:x:65534:\n")
    add_file("/etc/nsswitch.conf", b"hosts: files dns\n")
    entries["tmp"] = ("dir", None, 0o1777, 0)
    entries["home/nonroot"] = ("dir", None, 0o755, NOBODY)
    add_dirs("/home/nonroot")

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path in sorted(entries):
            kind, data, mode, uid = entries[path]
            info = tarfile.TarInfo(path)
            info.mtime = epoch
            info.mode = mode
            info.uid = info.gid = uid
            info.uname = info.gname = ""
            if kind == "dir":
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            else:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def blob(out, data):
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    path = os.path.join(out, "blobs", "sha256", digest.split(":", 1)[1])
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path + ".tmp", "wb") as f:
        f.write(data)
    os.replace(path + ".tmp", path)
    return digest


def canonical(doc):
    return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()


def build(args):
    epoch = int(os.environ.get("SOURCE_DATE_EPOCH", "0"))
    raw = layer(args.binary, epoch)
    compressed = gzip.compress(raw, compresslevel=9, mtime=0)
    os.makedirs(args.out, exist_ok=True)
    layer_digest = blob(args.out, compressed)
    created = "1970-01-01T00:00:00Z" if epoch == 0 else \
        __import__("datetime").datetime.fromtimestamp(epoch, __import__("datetime").timezone.utc) \
        .strftime("%Y-%m-%dT%H:%M:%SZ")
    labels = {
        "org.opencontainers.image.title": "keelson",
        "org.opencontainers.image.description": "GitOps engine for Kubernetes, API-compatible with Flux",
        "org.opencontainers.image.source": args.source,
        "org.opencontainers.image.version": args.version,
        "org.opencontainers.image.revision": args.revision,
        "org.opencontainers.image.licenses": "Apache-2.0",
        "org.opencontainers.image.created": created,
    }
    config = {
        "architecture": "amd64",
        "os": "linux",
        "created": created,
        "config": {
            "User": f"{NOBODY}:{NOBODY}",
            "Env": ["PATH=/usr/local/bin:/usr/bin:/bin", "HOME=/home/nonroot",
                    f"SSL_CERT_FILE={CA_BUNDLE}"],
            "Entrypoint": ["keelson"],
            "Cmd": ["controller"],
            "WorkingDir": "/home/nonroot",
            "Labels": labels,
        },
        "rootfs": {"type": "layers",
                   "diff_ids": ["sha256:" + hashlib.sha256(raw).hexdigest()]},
        "history": [{"created": created, "created_by": "scripts/oci-image.py"}],
    }
    config_bytes = canonical(config)
    config_digest = blob(args.out, config_bytes)
    manifest = {
        "schemaVersion": 2,
        "mediaType": MEDIA_MANIFEST,
        "config": {"mediaType": MEDIA_CONFIG, "digest": config_digest,
                   "size": len(config_bytes)},
        "layers": [{"mediaType": MEDIA_LAYER, "digest": layer_digest,
                    "size": len(compressed)}],
        "annotations": labels,
    }
    manifest_bytes = canonical(manifest)
    manifest_digest = blob(args.out, manifest_bytes)
    index = {
        "schemaVersion": 2,
        "mediaType": MEDIA_INDEX,
        "manifests": [{"mediaType": MEDIA_MANIFEST, "digest": manifest_digest,
                       "size": len(manifest_bytes),
                       "platform": {"architecture": "amd64", "os": "linux"},
                       "annotations": {"org.opencontainers.image.ref.name": args.tag}}],
    }
    with open(os.path.join(args.out, "oci-layout"), "w") as f:
        f.write('{"imageLayoutVersion":"1.0.0"}')
    with open(os.path.join(args.out, "index.json.tmp"), "wb") as f:
        f.write(canonical(index))
    os.replace(os.path.join(args.out, "index.json.tmp"), os.path.join(args.out, "index.json"))
    return {
        "manifest": (manifest_digest, manifest_bytes),
        "blobs": [(config_digest, config_bytes), (layer_digest, compressed)],
        "layer_size": len(compressed),
        "uncompressed": len(raw),
    }


def push(image, ref):
    """Pushes to a plain-HTTP registry (the test registry on loopback), as the OCI distribution
    spec describes: a monolithic blob upload (POST then PUT ?digest=), then the manifest."""
    host, _, rest = ref.partition("/")
    repo, _, tag = rest.rpartition(":")
    if not repo or not tag:
        fail(f"--push needs HOST:PORT/REPOSITORY:TAG, got {ref}")
    base = f"http://{host}/v2/{repo}"
    for digest, data in image["blobs"]:
        head = urllib.request.Request(f"{base}/blobs/{digest}", method="HEAD")
        try:
            urllib.request.urlopen(head)
            continue
        except urllib.error.HTTPError as e:
            if e.code != 404:
                fail(f"HEAD blob {digest}: HTTP {e.code}")
        start = urllib.request.urlopen(urllib.request.Request(f"{base}/blobs/uploads/",
                                                              method="POST", data=b""))
        location = start.headers["Location"]
        if location.startswith("/"):
            location = f"http://{host}{location}"
        sep = "&" if "?" in location else "?"
        put = urllib.request.Request(f"{location}{sep}digest={urllib.parse.quote(digest)}",
                                     method="PUT", data=data,
                                     headers={"Content-Type": "application/octet-stream"})
        urllib.request.urlopen(put)
    digest, data = image["manifest"]
    put = urllib.request.Request(f"{base}/manifests/{tag}", method="PUT", data=data,
                                 headers={"Content-Type": MEDIA_MANIFEST})
    resp = urllib.request.urlopen(put)
    pushed = resp.headers.get("Docker-Content-Digest", digest)
    if pushed != digest:
        fail(f"the registry stored {pushed}, not {digest}")


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--binary", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--version", required=True)
    p.add_argument("--revision", required=True)
    p.add_argument("--source", required=True)
    p.add_argument("--tag", default=None)
    p.add_argument("--push", default=None)
    args = p.parse_args()
    args.tag = args.tag or args.version
    image = build(args)
    digest = image["manifest"][0]
    print(json.dumps({"digest": digest, "layer_bytes": image["layer_size"],
                      "uncompressed_bytes": image["uncompressed"], "layout": args.out}))
    if args.push:
        push(image, args.push)
        print(f"oci-image: pushed {args.push}@{digest}", file=sys.stderr)


if __name__ == "__main__":
    main()
