# The billcons image the manifests in deploy/kubernetes run.
# DuckDB is linked with cgo, so the build stage needs gcc (golang images
# have it) and the runtime a glibc: debian slim, not distroless/static.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=1 go build -trimpath -o /out/billcons ./cmd/billcons

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates && rm -rf /var/lib/apt/lists/*
COPY --from=build /out/billcons /usr/local/bin/billcons
USER 65532:65532
ENV TMPDIR=/tmp
ENTRYPOINT ["/usr/local/bin/billcons"]
