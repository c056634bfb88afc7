# finsim container image.
#
#   docker build -t finsim:0.1.0 .
#   docker run --rm finsim:0.1.0 version
#   docker run --rm --user "$(id -u):$(id -g)" -v "$PWD:/data" finsim:0.1.0 \
#       generate --trades 1000 --seed 1 --store trades.h5
#   docker run --rm --user "$(id -u):$(id -g)" -v "$PWD:/data" --entrypoint finsim-local finsim:0.1.0 \
#       -n 4 --store trades.h5 --trade-window 1000 -o results.h5
#
# --user: the files finsim writes into a mounted host directory belong to
# you, and a 0600 password file of yours is readable; the image runs as any
# uid (/data, the working directory, is writable by all; HOME is /tmp).
# Without --user it runs as 'finsim' (uid 10001), which can write only
# where uid 10001 may.
#
# Two stages: 'build' has the compilers and -dev packages, builds hiredis 1.2
# with TLS (Debian 12 ships 0.14 without it) and a portable finsim
# (FINSIM_NATIVE=OFF: x86-64-v2, not the build machine's CPU; the pricing
# kernel picks its AVX-512 or AVX2 copy at run time where the CPU has one;
# parallel HDF5 and GSL linked in from their static archives,
# docs/BUILDING.md). The runtime
# stage has only the shared libraries (libcurl4 among them: finsim loads it
# when screen reads an HTTP(S) source), Open MPI's launcher, CA certificates,
# the report tool (finsim-report, with python3-h5py and python3-matplotlib)
# (TLS to Redis), the ssh pieces Open MPI uses between nodes, curl (the
# Azure Batch scripts' REST calls: Batch, the metadata service, Key Vault),
# and the job helper scripts. It runs as
# the unprivileged user 'finsim' by default, or as any uid given with --user.
#
# No secrets and no local configuration go into the image (.dockerignore keeps
# *.local.ini, secrets/, keys and .env files out of the build context). Give
# the Redis password at run time: -e FINSIM_REDIS_PASSWORD, or a password file
# mounted read-only and named with --password-file.

ARG DEBIAN_IMAGE=debian:12
ARG DEBIAN_RUNTIME_IMAGE=debian:12-slim

# ---------------------------------------------------------------- build stage
FROM ${DEBIAN_IMAGE} AS build
ARG DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
        build-essential cmake pkg-config ca-certificates debian-archive-keyring \
        openmpi-bin libopenmpi-dev libhdf5-openmpi-dev libgsl-dev libexpat1-dev libinih-dev libfast-float-dev \
        libssl-dev libcurl4-openssl-dev libjansson-dev \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /src
# hiredis first: this layer stays cached while the finsim sources change
COPY scripts/build-hiredis.sh scripts/build-hiredis.sh
RUN bash scripts/build-hiredis.sh /opt/hiredis

COPY . .
RUN cmake -S . -B /build -DCMAKE_BUILD_TYPE=Release -DFINSIM_NATIVE=OFF -DFINSIM_TESTS=OFF \
        -DCMAKE_PREFIX_PATH=/opt/hiredis \
 && cmake --build /build --target finsim -j"$(nproc)" \
 && /build/finsim version

# -------------------------------------------------------------- runtime stage
FROM ${DEBIAN_RUNTIME_IMAGE} AS runtime
ARG DEBIAN_FRONTEND=noninteractive
# ssh: Open MPI starts its daemons on the other nodes over ssh (Azure Batch
# multi-instance tasks); the host keys the package generates are deleted, each
# task makes its own (jobscripts/azure-batch/coordinate.sh).
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
        openmpi-bin libopenmpi3 libsz2 zlib1g libexpat1 libinih1 \
        libssl3 libcurl4 libjansson4 ca-certificates curl openssh-client openssh-server \
        python3-h5py python3-matplotlib \
 && rm -rf /var/lib/apt/lists/* /etc/ssh/ssh_host_*

COPY --from=build /opt/hiredis/lib/libhiredis.so.1.1.0 /opt/hiredis/lib/libhiredis_ssl.so.1.1.0 /usr/local/lib/
COPY --from=build /build/finsim /usr/local/bin/finsim
COPY jobscripts/local/finsim-local.sh /usr/local/bin/finsim-local
# the report tool (PNG and a self-contained HTML page; Agg backend, no display)
COPY tools/finsim-report.py /usr/local/bin/finsim-report
COPY jobscripts/azure-batch/run-task.sh jobscripts/azure-batch/coordinate.sh jobscripts/azure-batch/add-task.sh \
     jobscripts/azure-batch/azure-identity.sh jobscripts/azure-batch/serve-task.sh \
     /opt/finsim/azure-batch/
# /opt/finsim/bin/finsim: the path the native-pool job definitions use
RUN ldconfig \
 && chmod 0755 /usr/local/bin/finsim-local /usr/local/bin/finsim-report /opt/finsim/azure-batch/*.sh \
 && mkdir -p /opt/finsim/bin && ln -s /usr/local/bin/finsim /opt/finsim/bin/finsim \
 && useradd --uid 10001 --user-group --create-home --shell /bin/bash finsim \
 && mkdir -p /data && chmod 1777 /data \
 && finsim version

# Containers often forbid the cross-process memory copy Open MPI uses between
# ranks on one node (process_vm_readv); plain shared memory works everywhere.
ENV OMPI_MCA_btl_vader_single_copy_mechanism=none

# Any uid (docker run --user "$(id -u):$(id -g)") has a writable HOME and
# working directory: a uid without a passwd entry would get HOME=/.
ENV HOME=/tmp
USER finsim
WORKDIR /data
LABEL org.opencontainers.image.title="finsim" \
      org.opencontainers.image.description="MPI Monte Carlo risk simulation of FX barrier warrants (AzFinSim eyxml)" \
      org.opencontainers.image.version="0.1.0"
ENTRYPOINT ["finsim"]
CMD ["--help"]
