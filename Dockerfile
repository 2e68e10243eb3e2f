# infini-server, infini-client and infini on Debian 12, with the demo model.
#
#   docker build -t infini .                          # CPU (oneDNN) image
#   docker run --rm -p 50051:50051 -p 9464:9464 infini
#
# The build stage installs its packages with scripts/install-deps --build, the
# script CI runs, and builds in Release; the runtime stage holds only the
# binaries, the shared libraries they load, the demo model and a non-root user.
#
# --build-arg BACKEND:
#   cpu  (default) the CPU engine on debian:bookworm-slim, built with
#        INFINI_CUDA=OFF.
#   cuda the same binaries built with the CUDA backend (issue #7;
#        `infini-server --backend cuda`): the build stage adds NVIDIA's
#        nvcc, cudart and cuBLAS for Debian 12 (CUDA_VERSION, default 13-0,
#        the toolkit the project is developed with), the runtime stage their
#        runtime libraries. Run it with `docker run --gpus all`. The base
#        stays Debian 12 rather than nvidia/cuda:*-ubuntu because the
#        binaries link Debian 12's gRPC 1.51, spdlog 1.10 and oneDNN 2, whose
#        sonames Ubuntu's images do not carry. Not built on the development
#        machines (no Docker engine there): see docs/cuda.md.
ARG BACKEND=cpu
ARG CUDA_VERSION=13-0

# ---- build ------------------------------------------------------------------
FROM debian:bookworm AS build
ARG BACKEND
ARG CUDA_VERSION
WORKDIR /src
COPY scripts/install-deps scripts/install-deps
RUN scripts/install-deps --build && rm -rf /var/lib/apt/lists/*
# BACKEND=cuda: NVIDIA's compiler and libraries for Debian 12.
RUN case "$BACKEND" in \
      cpu) ;; \
      cuda) apt-get update -qq \
         && apt-get install -y -qq --no-install-recommends ca-certificates curl \
         && curl -fsSLo /tmp/cuda-keyring.deb \
              https://developer.download.nvidia.com/compute/cuda/repos/debian12/x86_64/cuda-keyring_1.1-1_all.deb \
         && dpkg -i /tmp/cuda-keyring.deb && rm /tmp/cuda-keyring.deb \
         && apt-get update -qq \
         && apt-get install -y -qq --no-install-recommends \
              cuda-nvcc-${CUDA_VERSION} cuda-cudart-dev-${CUDA_VERSION} libcublas-dev-${CUDA_VERSION} \
         && ln -sfn "/usr/local/cuda-$(echo "$CUDA_VERSION" | tr - .)" /usr/local/cuda \
         && rm -rf /var/lib/apt/lists/* ;; \
      *) echo "BACKEND must be cpu or cuda, not '$BACKEND'" >&2; exit 1 ;; \
    esac
# Only what the binaries are built from, so that editing docs, tests or
# deploy/ does not invalidate the compile layer.
COPY CMakeLists.txt ./
COPY cmake cmake
COPY proto proto
COPY engine engine
COPY server server
COPY client client
COPY tools tools
RUN cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DINFINI_BUILD_TESTS=OFF \
      -DINFINI_CUDA="$(echo "$BACKEND" | sed 's/^cuda$/ON/; s/^cpu$/OFF/; s/^$/OFF/')" \
 && cmake --build build -j"$(nproc)" --target infini-server infini-client infini \
 && strip build/bin/infini-server build/bin/infini-client build/bin/infini \
 && strip --strip-unneeded build/lib/infini/*.so

# ---- runtime -----------------------------------------------------------------
FROM debian:bookworm-slim AS runtime
ARG BACKEND
ARG CUDA_VERSION
# The packages behind the binaries' NEEDED entries (ldd + dpkg -S): oneDNN,
# SentencePiece, spdlog/fmt, OpenMP, gRPC++ (which pulls libgrpc29, abseil,
# re2, c-ares, OpenSSL), civetweb for /metrics, and PCRE2 and utf8proc for
# Hugging Face tokenizers (regex pre-tokenizers, Unicode normalizers). Protobuf is linked
# statically (see CMakeLists.txt), so no libprotobuf.
RUN apt-get update -qq \
 && apt-get install -y -qq --no-install-recommends \
      libdnnl2 libsentencepiece0 libspdlog1.10 libfmt9 libgomp1 \
      libgrpc++1.51 libcivetweb1 libpcre2-8-0 libutf8proc2 \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 infini \
 && useradd --system --uid 10001 --gid 10001 --home-dir /app --no-create-home \
      --shell /usr/sbin/nologin infini \
 && mkdir -p /var/lib/infini/snapshots \
 && chown 10001:10001 /var/lib/infini/snapshots
# BACKEND=cuda: NVIDIA's CUDA runtime and cuBLAS for Debian 12.
RUN case "$BACKEND" in \
      cpu) ;; \
      cuda) apt-get update -qq \
         && apt-get install -y -qq --no-install-recommends ca-certificates curl \
         && curl -fsSLo /tmp/cuda-keyring.deb \
              https://developer.download.nvidia.com/compute/cuda/repos/debian12/x86_64/cuda-keyring_1.1-1_all.deb \
         && dpkg -i /tmp/cuda-keyring.deb && rm /tmp/cuda-keyring.deb \
         && apt-get update -qq \
         && apt-get install -y -qq --no-install-recommends \
              cuda-cudart-${CUDA_VERSION} libcublas-${CUDA_VERSION} \
         && apt-get purge -y -qq curl && apt-get autoremove -y -qq \
         && rm -rf /var/lib/apt/lists/* ;; \
      *) echo "BACKEND must be cpu or cuda, not '$BACKEND'" >&2; exit 1 ;; \
    esac
COPY --from=build /src/build/bin/infini-server /src/build/bin/infini-client \
     /src/build/bin/infini /usr/local/bin/
# lib/infini, found from the binaries at ../lib/infini: what lets civetweb
# serve /metrics over https with OpenSSL 3 (--metrics-tls-cert; see
# server/metrics/civetweb_openssl.h) and, with BACKEND=cuda, the CUDA backend plugin
# libinfini-cuda.so (engine/cuda_plugin.h).
COPY --from=build /src/build/lib/infini/ /usr/local/lib/infini/
COPY models/demo /app/models/demo
WORKDIR /app
# Every flag of infini-server also reads an INFINI_* variable; these are its
# defaults, spelled out so that `docker run -e` overrides read naturally and
# the HEALTHCHECK follows INFINI_LISTEN's port.
ENV INFINI_LISTEN=0.0.0.0:50051 \
    INFINI_METRICS_LISTEN=0.0.0.0:9464 \
    INFINI_MODEL=/app/models/demo \
    INFINI_SNAPSHOT_DIR=/var/lib/infini/snapshots
# Session snapshots: written after every Ingest and at shutdown, restored at
# start, so sessions survive a restart (mount a volume here to keep them).
VOLUME /var/lib/infini/snapshots
USER 10001:10001
# 50051 gRPC (infini.v1.LongContext, grpc.health.v1.Health, reflection);
# 9464 Prometheus text format on GET /metrics.
EXPOSE 50051 9464
# grpc.health.v1.Health/Check for the overall service ""; exit 0 only when
# SERVING. The start period covers loading the model.
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
  CMD infini-client --server "127.0.0.1:${INFINI_LISTEN##*:}" --timeout 3 health || exit 1
# SIGTERM: the server stops accepting calls, gives in-flight ones 10 s and
# exits (stop_grace_period / terminationGracePeriodSeconds are longer).
STOPSIGNAL SIGTERM
ENTRYPOINT ["infini-server"]
