#!/usr/bin/env python3
"""Writes OCI images as OCI image layouts, without a container engine.

Two kinds of image, one writer (layer, config, manifest, index, push):

keelson's image (--binary): one program and what it needs to run, nothing else (no shell, no
package manager): the stripped keelson binary at /usr/local/bin/keelson, the ELF loader and the
shared libraries it links (copied from the build machine, so the image is self-contained), the CA
bundle for HTTPS sources, /etc/passwd and /etc/group naming the non-root user 65534, and an
empty /tmp.

A test image of given files (--file, used by testenv/realnode.sh for the real node's pause and
busybox images): each SRC file of this machine at DEST, --link symlinks, the mount points a
runtime expects, an entrypoint; --name sets the io.containerd.image.name annotation and
--archive also writes the layout as one tar for `ctr images import`.

Both are reproducible: every file's time is SOURCE_DATE_EPOCH (default 0), owners are 0 or
65534, entries are sorted and gzip carries no name or time, so two runs on the same input give
the same digest.

Usage: oci-image.py --binary PATH --out DIR --version V --revision SHA --source URL
                    [--tag TAG] [--push HOST:PORT/REPO:TAG]
       oci-image.py --file SRC=DEST [--file ...] [--link DEST=TARGET ...] [--entrypoint JSON]
                    --out DIR --tag TAG [--name NAME:TAG] [--archive OUT.tar]
                    [--push HOST:PORT/REPO:TAG]
"""

import argparse
import datetime
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


def add_dirs(entries, path):
    parts = path.strip("/").split("/")[:-1]
    for i in range(1, len(parts) + 1):
        entries.setdefault("/".join(parts[:i]), ("dir", None, 0o755, 0))


def add_file(entries, path, data, mode=0o644, uid=0):
    add_dirs(entries, path)
    entries[path.strip("/")] = ("file", data, mode, uid)


def keelson_entries(binary, extras=()):
    """keelson's files: path in the image -> (kind, data, mode, uid). `extras` are other programs
    put at their own paths (ssh, which git's ssh:// transport runs), with what they link."""
    entries = {}
    with open(binary, "rb") as f:
        add_file(entries, "/usr/local/bin/keelson", f.read(), 0o755)
    for extra in extras:
        with open(os.path.realpath(extra), "rb") as f:
            add_file(entries, extra, f.read(), 0o755)
    libraries = set(shared_libraries(binary))
    for extra in extras:
        libraries.update(shared_libraries(extra))
    for image_path, real in sorted(libraries):
        with open(real, "rb") as f:
            add_file(entries, image_path, f.read(), 0o755)
    if os.path.exists(CA_BUNDLE):
        with open(CA_BUNDLE, "rb") as f:
            add_file(entries, CA_BUNDLE, f.read())
    add_file(entries, "/etc/passwd", b"root:x:0:0:root:/root:/sbin/nologin\n"
             b"nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n")
    add_file(entries, "/etc/group", b"root:x:0:\nnogroup:x:65534:\n")
    add_file(entries, "/etc/nsswitch.conf", b"hosts: files dns\n")
    entries["tmp"] = ("dir", None, 0o1777, 0)
    entries["home/nonroot"] = ("dir", None, 0o755, NOBODY)
    add_dirs(entries, "/home/nonroot")
    return entries


def pair(text, what):
    if "=" not in text:
        fail(f"{what} {text!r} is not of the form A=B")
    return text.split("=", 1)


def test_entries(files, links):
    """A test image's files (--file SRC=DEST, --link DEST=TARGET) and the runtime's mount points."""
    entries = {}
    for spec in files:
        src, dest = pair(spec, "--file")
        if not os.path.isfile(src):
            fail(f"--file source {src} is not a file")
        with open(src, "rb") as f:
            add_file(entries, dest, f.read(), 0o755 if os.access(src, os.X_OK) else 0o644)
    for spec in links:
        dest, target = pair(spec, "--link")
        add_dirs(entries, dest)
        entries[dest.strip("/")] = ("link", target, 0o777, 0)
    for d in ("etc", "proc", "sys", "dev"):
        entries.setdefault(d, ("dir", None, 0o755, 0))
    entries["tmp"] = ("dir", None, 0o1777, 0)
    return entries


def layer(entries, epoch):
    """The image's only layer, as uncompressed tar bytes."""
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
            elif kind == "link":
                info.type = tarfile.SYMTYPE
                info.linkname = data
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


def created_time(epoch):
    if epoch == 0:
        return "1970-01-01T00:00:00Z"
    return datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def keelson_config(args, created):
    """keelson's image configuration and its labels (also the manifest's annotations)."""
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
        "User": f"{NOBODY}:{NOBODY}",
        "Env": ["PATH=/usr/local/bin:/usr/bin:/bin", "HOME=/home/nonroot",
                f"SSL_CERT_FILE={CA_BUNDLE}"],
        "Entrypoint": ["keelson"],
        "Cmd": ["controller"],
        "WorkingDir": "/home/nonroot",
        "Labels": labels,
    }
    return config, labels


def build(out, entries, image_config, labels, tag, name=None):
    """Writes the layout of a one-layer image to `out`; returns what push() needs."""
    epoch = int(os.environ.get("SOURCE_DATE_EPOCH", "0"))
    raw = layer(entries, epoch)
    compressed = gzip.compress(raw, compresslevel=9, mtime=0)
    os.makedirs(out, exist_ok=True)
    layer_digest = blob(out, compressed)
    created = created_time(epoch)
    config = {
        "architecture": "amd64",
        "os": "linux",
        "created": created,
        "config": image_config,
        "rootfs": {"type": "layers",
                   "diff_ids": ["sha256:" + hashlib.sha256(raw).hexdigest()]},
        "history": [{"created": created, "created_by": "scripts/oci-image.py"}],
    }
    config_bytes = canonical(config)
    config_digest = blob(out, config_bytes)
    manifest = {
        "schemaVersion": 2,
        "mediaType": MEDIA_MANIFEST,
        "config": {"mediaType": MEDIA_CONFIG, "digest": config_digest,
                   "size": len(config_bytes)},
        "layers": [{"mediaType": MEDIA_LAYER, "digest": layer_digest,
                    "size": len(compressed)}],
    }
    if labels:
        manifest["annotations"] = labels
    manifest_bytes = canonical(manifest)
    manifest_digest = blob(out, manifest_bytes)
    ref_annotations = {"org.opencontainers.image.ref.name": tag}
    if name:  # how `ctr images import` names the image
        ref_annotations["io.containerd.image.name"] = name
    index = {
        "schemaVersion": 2,
        "mediaType": MEDIA_INDEX,
        "manifests": [{"mediaType": MEDIA_MANIFEST, "digest": manifest_digest,
                       "size": len(manifest_bytes),
                       "platform": {"architecture": "amd64", "os": "linux"},
                       "annotations": ref_annotations}],
    }
    with open(os.path.join(out, "oci-layout"), "w") as f:
        f.write('{"imageLayoutVersion":"1.0.0"}')
    with open(os.path.join(out, "index.json.tmp"), "wb") as f:
        f.write(canonical(index))
    os.replace(os.path.join(out, "index.json.tmp"), os.path.join(out, "index.json"))
    return {
        "manifest": (manifest_digest, manifest_bytes),
        "blobs": [(config_digest, config_bytes), (layer_digest, compressed)],
        "layer_size": len(compressed),
        "uncompressed": len(raw),
    }


def archive(layout, path):
    """The layout as one reproducible tar (what `ctr images import` reads), written atomically."""
    with tarfile.open(path + ".tmp", mode="w", format=tarfile.PAX_FORMAT) as tar:
        for root, dirs, files in os.walk(layout):
            dirs.sort()
            for name in sorted(files):
                full = os.path.join(root, name)
                info = tar.gettarinfo(full, os.path.relpath(full, layout))
                info.mtime = 0
                info.uid = info.gid = 0
                info.uname = info.gname = ""
                info.mode = 0o644
                with open(full, "rb") as f:
                    tar.addfile(info, f)
    os.replace(path + ".tmp", path)


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
    p.add_argument("--binary", help="keelson's release binary: build keelson's image")
    p.add_argument("--extra", action="append", default=[],
                   help="another program for keelson's image, at its own path, with its libraries")
    p.add_argument("--file", action="append", default=[], help="SRC=DEST: build a test image")
    p.add_argument("--link", action="append", default=[], help="DEST=TARGET (test image)")
    p.add_argument("--entrypoint", default="null", help="JSON list (test image)")
    p.add_argument("--name", default=None, help="io.containerd.image.name (test image)")
    p.add_argument("--archive", default=None, help="also write the layout as this tar")
    p.add_argument("--out", required=True)
    p.add_argument("--version")
    p.add_argument("--revision")
    p.add_argument("--source")
    p.add_argument("--tag", default=None)
    p.add_argument("--push", default=None)
    args = p.parse_args()
    if bool(args.binary) == bool(args.file):
        fail("give either --binary (keelson's image) or --file (a test image)")
    if args.binary:
        if not (args.version and args.revision and args.source):
            fail("--binary needs --version, --revision and --source")
        args.tag = args.tag or args.version
        epoch = int(os.environ.get("SOURCE_DATE_EPOCH", "0"))
        config, labels = keelson_config(args, created_time(epoch))
        image = build(args.out, keelson_entries(args.binary, args.extra), config, labels, args.tag)
    else:
        if not args.tag:
            fail("a test image needs --tag")
        config = {"Env": ["PATH=/bin:/usr/bin:/sbin:/usr/sbin"],
                  "Entrypoint": json.loads(args.entrypoint), "WorkingDir": "/"}
        image = build(args.out, test_entries(args.file, args.link), config, None, args.tag, args.name)
    if args.archive:
        archive(args.out, args.archive)
    digest = image["manifest"][0]
    print(json.dumps({"digest": digest, "layer_bytes": image["layer_size"],
                      "uncompressed_bytes": image["uncompressed"], "layout": args.out}))
    if args.push:
        push(image, args.push)
        print(f"oci-image: pushed {args.push}@{digest}", file=sys.stderr)


if __name__ == "__main__":
    main()
