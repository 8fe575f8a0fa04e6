#!/usr/bin/env bash
# make deploy: `sam build` then `sam deploy` of infra/template.yaml with infra/samconfig.toml.
# The first time (no stack_name in samconfig.toml yet) it runs `sam deploy --guided`, which asks
# for the stack name, region and parameters (TenantsSecretArn at least) and saves the answers
# in infra/samconfig.toml; later runs deploy without questions.
# Needs AWS credentials for the target account (AWS_PROFILE or the usual variables).
set -euo pipefail
cd "$(dirname "$0")"   # template.yaml and samconfig.toml live here; CodeUri (..) is the workspace

if command -v sam >/dev/null; then
  SAM=sam
else
  ./pyvenv.sh ../.venv-sam requirements-sam.txt
  SAM=../.venv-sam/bin/sam
fi

# cargo-lambda (and Zig) for the rust-cargolambda build method, as `make build` installs them.
../scripts/venv.sh >/dev/null
./pyvenv.sh ../.venv requirements-build.txt
export PATH="$(cd .. && pwd)/.venv/bin:$PATH"
# SAM copies the binary from <CodeUri>/target/lambda/<bin>/bootstrap: build into the workspace's
# own target directory.
unset CARGO_TARGET_DIR

# Build for the architecture the stack uses: the saved parameter, else $ARCH, else arm64.
ARCH_SAVED=$(grep -o 'Architecture=\\\?"\?[a-z0-9_]*' samconfig.toml 2>/dev/null | sed 's/.*=\\\?"\?//' | head -n1 || true)
ARCH=${ARCH_SAVED:-${ARCH:-arm64}}
echo "building for $ARCH"
"$SAM" build --parameter-overrides "Architecture=$ARCH"

if grep -Eq '^[[:space:]]*stack_name[[:space:]]*=' samconfig.toml; then
  "$SAM" deploy
else
  echo "first deploy: answer the questions (stack name, region, TenantsSecretArn, ...); answers go to infra/samconfig.toml"
  echo "choose Architecture=$ARCH (or rerun with ARCH=x86_64 make deploy)"
  "$SAM" deploy --guided
fi
