# Builds the engine and the `infini` tool on Debian 12 with the same
# scripts/install-deps that CI uses. The server, the demo model and the
# observability stack join this image with later issues (#3, #4, #5).
FROM debian:bookworm AS build
WORKDIR /src
COPY scripts/install-deps scripts/install-deps
RUN scripts/install-deps --build && rm -rf /var/lib/apt/lists/*
COPY . .
RUN cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DINFINI_BUILD_TESTS=OFF \
 && cmake --build build -j"$(nproc)" --target infini

FROM debian:bookworm-slim AS runtime
RUN apt-get update -qq \
 && apt-get install -y -qq --no-install-recommends libdnnl2 libsentencepiece0 libspdlog1.10 libgomp1 \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home /app infini
COPY --from=build /src/build/bin/infini /usr/local/bin/infini
USER infini
WORKDIR /app
ENTRYPOINT ["infini"]
CMD ["--help"]
