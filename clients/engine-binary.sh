# Sourced by the demos: sets ENGINE to a release pushdoc binary.
# PUSHDOC_BINARY=/path/to/pushdoc runs a demo with an engine already built
# (no install, no build); else what is missing is installed
# (PUSHDOC_DEMO_SKIP_INSTALL=1 skips that) and the engine is built.
if [ -n "${PUSHDOC_BINARY:-}" ]; then
    ENGINE=$PUSHDOC_BINARY
else
    if [ "${PUSHDOC_DEMO_SKIP_INSTALL:-}" != 1 ]; then bash .ci/install; fi
    swift build -c release --static-swift-stdlib --product pushdoc >/dev/null
    ENGINE=$PWD/.build/release/pushdoc
fi
