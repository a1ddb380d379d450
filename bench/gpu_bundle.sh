#!/usr/bin/env bash
# The files that travel to a GPU machine that has Python 3.12 + torch (CUDA) + e3nn + numpy + scipy + cmake/ninja
# but no mace-torch, no ase, no LAMMPS and no network (docs/gpu.md), and the one command that runs the check there.
#
#   bash bench/gpu_bundle.sh build [--wheels-only]   # here (network): build/gpu-bundle/, checked to be < 64 MiB
#   bash bench/gpu_bundle.sh run [gpu_check.py args] # there: install from the bundle into a venv, run the check
#
# build/gpu-bundle/
#   wheels/        mace-torch, ase and what `from mace.calculators import MACECalculator` imports that torch and
#                  e3nn do not bring (pinned below, cp312 manylinux x86-64 or pure Python; installed --no-deps)
#   lammps.tar.gz  a serial LAMMPS (no MPI) with ML-IAP + Python for CPython 3.12: bin/lmp.real, lib/liblammps.so
#                  (RPATH $ORIGIN), python/lammps; stripped (heavy: ~15 min on 2 cores; not with --wheels-only)
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
BUNDLE=$REPO/build/gpu-bundle
LIMIT=$((64 * 1024 * 1024))
# mace-torch 0.3.16's import-time dependencies beyond torch/e3nn/numpy/scipy (as imported here by bench/gpu_check.py),
# and what harness itself imports (jinja2; pydantic for the campaign/potential schema)
WHEELS=(mace-torch==0.3.16 ase==3.29.0 matscipy==1.3.1 h5py==3.16.0 lmdb==3.0.0 orjson==3.13.0 torch-ema==0.3
        torchmetrics==1.9.0 lightning-utilities==0.15.3 tqdm==4.70.1 prettytable==3.18.0 wcwidth==0.9.4
        ConfigArgParse==1.9.0 GitPython==3.2.1 gitdb==4.0.12 smmap==5.0.3 PyYAML==6.0.4 matplotlib==3.11.2
        contourpy==1.3.3 cycler==0.12.1 fonttools==4.68.0 kiwisolver==1.5.1 pillow==13.0.0 pyparsing==3.3.3
        python-dateutil==4.0.0 pandas==3.1.1 tzdata==2026.6 Jinja2==3.1.6 MarkupSafe==3.0.4
        packaging==26.4 opt-einsum-fx==0.1.4 pydantic==2.14.4 pydantic_core==2.50.5 annotated-types==0.8.0
        typing-inspection==0.4.5)
LAMMPS_PACKAGES=(PYTHON ML-IAP ML-SNAP KSPACE MOLECULE EXTRA-FIX EXTRA-COMPUTE EXTRA-PAIR)   # as harness build-lammps

py312() {
    local root
    root=$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")
    ls -d "$root"/versions/3.12*/bin/python3.12 2>/dev/null | tail -1
}

build_wheels() {
    rm -rf "$BUNDLE/wheels"; mkdir -p "$BUNDLE/wheels"
    "$REPO/.venv/bin/python" -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 \
        --implementation cp --abi cp312 --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 \
        --platform manylinux2014_x86_64 --platform any -d "$BUNDLE/wheels" "${WHEELS[@]}"
}

build_lammps() {
    local python src work prefix
    python=$(py312); [ -n "$python" ] || { echo "gpu_bundle: no Python 3.12 (pyenv install 3.12)"; exit 2; }
    work=$REPO/build/gpu-lammps; prefix=$work/prefix
    rm -rf "$work"; mkdir -p "$work/src" "$prefix"
    "$python" -m venv "$work/venv" && "$work/venv/bin/pip" install --quiet cython==3.3.1 numpy
    # the same pinned Debian source tarball as `harness build-lammps` (sha256 checked there; cached)
    src=$("$REPO/.venv/bin/python" -c 'from harness.build_lammps import BuildOptions, resolve_source; print(resolve_source(BuildOptions())[0])')
    tar -xf "$src" -C "$work/src"
    cmake -S "$work"/src/*/cmake -B "$work/b" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX="$prefix" \
        -DBUILD_SHARED_LIBS=on -DBUILD_MPI=off -DBUILD_OMP=off -DLAMMPS_EXCEPTIONS=on -DMLIAP_ENABLE_PYTHON=on \
        -DPython_EXECUTABLE="$work/venv/bin/python" -DWITH_JPEG=off -DWITH_PNG=off -DWITH_FFMPEG=off \
        -DBUILD_TOOLS=off -DCMAKE_INSTALL_RPATH='$ORIGIN/../lib' $(printf -- '-DPKG_%s=on ' "${LAMMPS_PACKAGES[@]}") \
        >"$work/cmake.log"
    nice -n 10 cmake --build "$work/b" --parallel "$(nproc)" >>"$work/cmake.log"
    cmake --install "$work/b" >>"$work/cmake.log"
    mkdir -p "$prefix/python"; cp -r "$work"/src/*/python/lammps "$prefix/python/"
    strip --strip-unneeded "$prefix"/bin/lmp "$prefix"/lib/liblammps.so* 2>/dev/null || true
    mv "$prefix/bin/lmp" "$prefix/bin/lmp.real"
    tar -czf "$BUNDLE/lammps.tar.gz" -C "$prefix" bin/lmp.real lib python
}

check_size() {
    local size
    size=$(du -sb "$BUNDLE" | cut -f1)
    echo "gpu_bundle: $BUNDLE is $((size / 1024 / 1024)) MiB (limit 64 MiB with the working tree)"
    [ "$size" -lt "$LIMIT" ] || { echo "gpu_bundle: too large"; exit 1; }
}

run_check() {
    # On the GPU machine: a venv over the system's torch/e3nn, the bundle's wheels, the bundle's LAMMPS.
    local venv=/tmp/harness-gpu-venv lammps=/tmp/harness-gpu-lammps python=${PYTHON:-python3.12}
    [ -d "$BUNDLE/wheels" ] || { echo "gpu_bundle: $BUNDLE/wheels missing (build it with: bash bench/gpu_bundle.sh build)"; exit 2; }
    "$python" -m venv --system-site-packages "$venv"
    "$venv/bin/python" -m pip install --quiet --no-index --no-deps "$BUNDLE"/wheels/*.whl
    rm -rf "$lammps"; mkdir -p "$lammps"; tar -xzf "$BUNDLE/lammps.tar.gz" -C "$lammps"
    site=$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
    cat >"$lammps/bin/lmp" <<EOF
#!/bin/sh
PYTHONPATH="\${PYTHONPATH:+\$PYTHONPATH:}$lammps/python:$site"
export PYTHONPATH
exec "$lammps/bin/lmp.real" "\$@"
EOF
    chmod +x "$lammps/bin/lmp"
    export PYTHONPATH=$REPO HARNESS_LMP=$lammps/bin/lmp
    export LD_LIBRARY_PATH="$lammps/lib:$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_config_var("LIBDIR"))')${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    exec "$venv/bin/python" bench/gpu_check.py --lmp "$lammps/bin/lmp" "$@"
}

case "${1:-}" in
    build)
        mkdir -p "$BUNDLE"
        build_wheels
        [ "${2:-}" = --wheels-only ] || build_lammps
        check_size ;;
    run) shift; run_check "$@" ;;
    *) sed -n '2,14p' "$0"; exit 2 ;;
esac
