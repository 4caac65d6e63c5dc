"""Puts ONNX Runtime's shared library and its licence in a folder, from the official PyPI wheel.

    python3 scripts/fetch_onnxruntime.py VERSION DEST [PLATFORM]

PLATFORM is a pip platform tag (e.g. manylinux_2_28_aarch64); without it, this machine's. Writes
DEST/lib/libonnxruntime.so.<version> with the link DEST/lib/libonnxruntime.so, DEST/LICENSE,
DEST/ThirdPartyNotices.txt and DEST/VERSION. Does nothing when DEST already holds that version.
The wheel is downloaded (`pip download`) and only read: nothing is installed.
"""

import glob
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile

NOTICES = {"onnxruntime/LICENSE": "LICENSE", "onnxruntime/ThirdPartyNotices.txt": "ThirdPartyNotices.txt"}


def present(dest: str, version: str) -> bool:
    try:
        with open(os.path.join(dest, "VERSION")) as f:
            same = f.read().strip() == version
    except OSError:
        return False
    return same and os.path.exists(os.path.join(dest, "lib", "libonnxruntime.so")) and all(
        os.path.isfile(os.path.join(dest, n)) for n in NOTICES.values()
    )


def unpack(wheel: str, dest: str) -> str:
    os.makedirs(os.path.join(dest, "lib"), exist_ok=True)
    libs = []
    with zipfile.ZipFile(wheel) as z:
        for name in z.namelist():
            base = os.path.basename(name)
            if name.startswith("onnxruntime/capi/") and base.startswith("libonnxruntime") and ".so" in base:
                out = os.path.join(dest, "lib", base)
                if base.startswith("libonnxruntime.so."):
                    libs.append(base)
            elif name in NOTICES:
                out = os.path.join(dest, NOTICES[name])
            else:
                continue
            with z.open(name) as src, open(out, "wb") as dst:
                dst.write(src.read())
    if not libs:
        sys.exit(f"error: {os.path.basename(wheel)} holds no libonnxruntime.so")
    return sorted(libs)[-1]


def main() -> None:
    version, dest = sys.argv[1], sys.argv[2]
    platform = sys.argv[3] if len(sys.argv) > 3 else None
    what = f"onnxruntime {version}" + (f" ({platform})" if platform else "")
    if present(dest, version):
        print(f"{what} present", file=sys.stderr)
        return
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:", "-d", tmp]
        if platform:
            cmd += ["--platform", platform]
        if subprocess.run(cmd + [f"onnxruntime=={version}"]).returncode != 0:
            sys.exit(f"error: could not download the {what} wheel from PyPI")
        shutil.rmtree(dest, ignore_errors=True)
        lib = unpack(glob.glob(os.path.join(tmp, "onnxruntime-*.whl"))[0], dest)
    link = os.path.join(dest, "lib", "libonnxruntime.so")
    os.symlink(lib, link)
    with open(os.path.join(dest, "VERSION"), "w") as f:
        f.write(version + "\n")
    print(f"{what} -> {os.path.join(dest, 'lib', lib)}", file=sys.stderr)


if __name__ == "__main__":
    main()
