"""Unpacks the ONNX Runtime shared library and its licence from an onnxruntime wheel.

    python3 scripts/unwheel.py onnxruntime-<version>-<platform>.whl DEST

writes DEST/lib/libonnxruntime.so.<version> (+ the providers' shared library), DEST/LICENSE and
DEST/ThirdPartyNotices.txt. The wheel is only read: nothing is installed.
"""

import os
import sys
import zipfile


def main() -> None:
    wheel, dest = sys.argv[1], sys.argv[2]
    os.makedirs(os.path.join(dest, "lib"), exist_ok=True)
    wanted = {"onnxruntime/LICENSE": "LICENSE", "onnxruntime/ThirdPartyNotices.txt": "ThirdPartyNotices.txt"}
    with zipfile.ZipFile(wheel) as z:
        for name in z.namelist():
            base = os.path.basename(name)
            if name.startswith("onnxruntime/capi/") and base.startswith("libonnxruntime") and ".so" in base:
                out = os.path.join(dest, "lib", base)
            elif name in wanted:
                out = os.path.join(dest, wanted[name])
            else:
                continue
            with z.open(name) as src, open(out, "wb") as dst:
                dst.write(src.read())


if __name__ == "__main__":
    main()
