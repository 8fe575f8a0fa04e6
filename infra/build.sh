#!/usr/bin/env bash
# make build: release build of the Lambda binaries (lister, fetcher, auditor, compactor) with cargo-lambda.
#   ARCH=arm64 (default) or ARCH=x86_64 — must match the stack's Architecture parameter.
# Writes <target dir>/lambda/o365-{lister,fetcher,auditor,compactor}/bootstrap
# (and a .zip beside each), the files `sam build` / Lambda expect.
set -euo pipefail
cd "$(dirname "$0")/.."

ARCH=${ARCH:-arm64}
case "$ARCH" in
  arm64) TRIPLE=aarch64-unknown-linux-gnu; FLAG=--arm64 ;;
  x86_64) TRIPLE=x86_64-unknown-linux-gnu; FLAG=--x86-64 ;;
  *) echo "ARCH must be arm64 or x86_64, not '$ARCH'" >&2; exit 2 ;;
esac

# cargo-lambda and Zig come from PyPI into the project venv.
scripts/venv.sh >/dev/null
infra/pyvenv.sh .venv infra/requirements-build.txt
# cargo-lambda finds `zig` through `python3 -m ziglang` of the venv.
export PATH="$PWD/.venv/bin:$PATH"

if command -v rustup >/dev/null && ! rustup target list --installed | grep -qx "$TRIPLE"; then
  echo "adding Rust target $TRIPLE (rustup needs network once)"
  rustup target add "$TRIPLE"
fi

cargo lambda build --release "$FLAG" --package o365-lister --package o365-fetcher --package o365-auditor --package o365-compactor
cargo lambda build --release "$FLAG" --package o365-lister --package o365-fetcher --package o365-auditor --package o365-compactor --output-format zip

TARGET_DIR=${CARGO_TARGET_DIR:-target}
for bin in o365-lister o365-fetcher o365-auditor o365-compactor; do
  ls -l "$TARGET_DIR/lambda/$bin/"
done
