# syntax=docker/dockerfile:1
# Assay container image: the `assay` binary on Debian 12 slim, run as the non-root user 10001.
#
#   docker build --build-arg ASSAY_BUILD_ID=$(git rev-parse --short=12 HEAD) \
#     -t ghcr.io/assay/assay:0.1.0 .
#   docker run --rm ghcr.io/assay/assay:0.1.0 --help
#
# ASSAY_BUILD_ID is the build identity the binary reports (`assay version`, every trusted
# record's engine_build, assay_build_info): the context carries no VCS metadata, so without it
# the image's binary says "unknown" (cmake/build_id.cmake).
#
# This is the image the Helm chart (helm/assay, values image.repository/tag) runs as
# `assay run /etc/assay/pipeline/pipeline.yaml --no-progress`, with a read-only root filesystem and an
# emptyDir at /tmp. linux/amd64 only: the crypto library libipsec-mb is built for x86-64.

########## build: the same packages and build script as a developer machine ##########
FROM debian:12 AS build
ENV DEBIAN_FRONTEND=noninteractive
WORKDIR /src
# scripts/setup.sh installs the build dependencies from Debian's packages (compilers, CMake,
# Ninja, librdkafka-dev, libtbb-dev, libyaml-cpp-dev, prometheus-cpp-dev (whose CMake config
# needs libcivetweb-dev; the binary does not link civetweb), libssl-dev, flatbuffers,
# GoogleTest, Google Benchmark, libipsec-mb-dev, ...).
COPY scripts/setup.sh scripts/build.sh scripts/
RUN scripts/setup.sh && rm -rf /var/lib/apt/lists/*
# Only the sources: no build directories, demo data or VCS metadata from the context.
COPY CMakeLists.txt ./
COPY cmake cmake
COPY schemas schemas
COPY crypto crypto
COPY engine engine
COPY connectors connectors
COPY formats formats
COPY registries registries
COPY operators operators
COPY metrology metrology
COPY sim sim
COPY cli cli
COPY tests tests
COPY bench bench
# RelWithDebInfo into build/ (scripts/build.sh release); ccache survives between builds
# through BuildKit's cache mount. The build argument reaches cmake/build_id.cmake as an
# environment variable.
ARG ASSAY_BUILD_ID=
RUN --mount=type=cache,target=/root/.cache/ccache \
    scripts/build.sh release \
 && install -D -m 0755 build/cli/assay /out/usr/local/bin/assay \
 && strip --strip-debug /out/usr/local/bin/assay \
 && /out/usr/local/bin/assay --help >/dev/null

########## runtime: Debian 12 slim with the shared libraries the binary links ##########
# `readelf -d build/cli/assay` (NEEDED) mapped to packages with `dpkg -S`:
#   librdkafka.so.1 -> librdkafka1 (pulls libssl3, libsasl2-2, libzstd1, liblz4-1, zlib1g)
#   libIPSec_MB.so.1 -> libipsec-mb1            libcurl.so.4 -> libcurl4
#   libtbb.so.12 -> libtbb12                    libprometheus-cpp-core.so.1.0 -> libprometheus-cpp-core1.0
#   libcrypto.so.3 / libssl.so.3 -> libssl3
#   libxml2.so.2 -> libxml2                     libxmlsec1(-openssl).so.1 -> libxmlsec1(-openssl)
#   libyaml-0.so.2 -> libyaml-0-2              libsodium.so.23 -> libsodium23
#   libstdc++.so.6 -> libstdc++6; libgcc_s, libm, libc are in the base image.
# FlatBuffers is header-only here (no libflatbuffers at run time). ca-certificates: the
# system CA bundle for Kafka TLS to brokers with publicly signed certificates.
FROM debian:12-slim AS runtime
ENV DEBIAN_FRONTEND=noninteractive
RUN apt-get update -q \
 && apt-get install -y -q --no-install-recommends \
      librdkafka1 libipsec-mb1 libcurl4 libtbb12 libprometheus-cpp-core1.0 \
      libssl3 libxml2 libxmlsec1 libxmlsec1-openssl libyaml-0-2 libsodium23 libstdc++6 \
      ca-certificates \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb \
 && groupadd --system --gid 10001 assay \
 && useradd --system --uid 10001 --gid 10001 --home-dir /nonexistent --no-create-home \
      --shell /usr/sbin/nologin assay \
 && mkdir -p /etc/assay
COPY --from=build /out/usr/local/bin/assay /usr/local/bin/assay
# Fail the build if a shared library is missing from the runtime image.
RUN if ldd /usr/local/bin/assay | grep -q 'not found'; then ldd /usr/local/bin/assay; exit 1; fi \
 && /usr/local/bin/assay --help >/dev/null

LABEL org.opencontainers.image.title="assay" \
      org.opencontainers.image.description="Verifies signed sensor readings from Kafka" \
      org.opencontainers.image.version="0.1.0" \
      org.opencontainers.image.licenses="NOASSERTION"
# /metrics, /healthz, /readyz (the pipeline's metrics.listen, 0.0.0.0:9464 in the chart).
EXPOSE 9464
USER 10001:10001
WORKDIR /tmp
# assay is PID 1: it handles SIGTERM/SIGINT itself (graceful drain) and spawns no children.
ENTRYPOINT ["/usr/local/bin/assay"]
CMD ["run", "/etc/assay/pipeline/pipeline.yaml", "--no-progress"]
