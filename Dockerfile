# syntax=docker/dockerfile:1
# The gorocket images, one build stage and one small stage per binary. Each image holds one
# static binary on distroless (no shell, no package manager) and runs as the non-root user
# 65532; ENTRYPOINT is the binary, so the operator passes only arguments.
#
#   docker build --target operator -t gorocket/gorocket-operator:0.1.0 .
#   docker build --target broker   -t gorocket/gorocket-broker:0.1.0 .
#   docker build --target namesrv  -t gorocket/gorocket-namesrv:0.1.0 .
#
# Without a container engine, hack/build-images.sh builds the same images as tarballs.

ARG GO_VERSION=1.26

FROM --platform=$BUILDPLATFORM golang:${GO_VERSION} AS build
ARG TARGETOS=linux
ARG TARGETARCH=amd64
ARG VERSION=0.1.0
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
ENV CGO_ENABLED=0 GOOS=${TARGETOS} GOARCH=${TARGETARCH}
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    set -e; \
    ldflags="-s -w -X github.com/gorocket/gorocket/internal/operator/manager.Version=${VERSION}"; \
    go build -trimpath -ldflags "$ldflags" -o /out/gorocket-operator ./cmd/operator; \
    go build -trimpath -ldflags "$ldflags" -o /out/gorocket-broker ./cmd/broker; \
    go build -trimpath -ldflags "$ldflags" -o /out/gorocket-namesrv ./cmd/nameserver

FROM gcr.io/distroless/static-debian12:nonroot AS broker
COPY --from=build /out/gorocket-broker /gorocket-broker
USER 65532:65532
EXPOSE 10911 10912
ENTRYPOINT ["/gorocket-broker"]

FROM gcr.io/distroless/static-debian12:nonroot AS namesrv
COPY --from=build /out/gorocket-namesrv /gorocket-namesrv
USER 65532:65532
EXPOSE 9876
ENTRYPOINT ["/gorocket-namesrv"]

# Last, so that a plain `docker build .` builds the operator.
FROM gcr.io/distroless/static-debian12:nonroot AS operator
COPY --from=build /out/gorocket-operator /gorocket-operator
USER 65532:65532
EXPOSE 8080 8081
ENTRYPOINT ["/gorocket-operator"]
