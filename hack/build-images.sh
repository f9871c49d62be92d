#!/usr/bin/env bash
# Builds the gorocket container images WITHOUT a container engine: static Go binaries on an
# empty base, packed with tar and sha256sum into one tarball per image that is at the same
# time a docker-archive (manifest.json, what `docker save` writes) and an OCI image layout
# (oci-layout, index.json, blobs/sha256/...). Load it with any of:
#   docker load -i F      podman load -i F      ctr -n k8s.io images import F
#   kind load image-archive F      skopeo copy oci-archive:F docker://REGISTRY/IMAGE:TAG
#
# The images match the Dockerfile's targets: one static binary at /<binary>, run as the
# non-root user 65532, ENTRYPOINT the binary. The output is reproducible (fixed timestamps,
# owners and file order): the same sources give the same digests.
#
# Usage: hack/build-images.sh [-o OUT_DIR] [operator|broker|namesrv ...]   (default: all three)
# Environment:
#   VERSION   image tag and operator version (default 0.1.0)
#   REPO      repository prefix (default gorocket): REPO/gorocket-operator:VERSION, ...
#   GOARCH    target architecture (default amd64)
#   BIN_DIR   take prebuilt binaries from here instead of running go build
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=$ROOT/dist/images
while getopts "o:h" opt; do
	case $opt in
	o) OUT=$OPTARG ;;
	h) sed -n '2,21p' "$0"; exit 0 ;;
	*) exit 2 ;;
	esac
done
shift $((OPTIND - 1))
IMAGES=("$@")
[ ${#IMAGES[@]} -gt 0 ] || IMAGES=(operator broker namesrv)

VERSION=${VERSION:-0.1.0}
REPO=${REPO:-gorocket}
ARCH=${GOARCH:-amd64}
EPOCH=0
CREATED=1970-01-01T00:00:00Z
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)

for tool in tar sha256sum; do
	command -v "$tool" >/dev/null || { echo "build-images: $tool is required" >&2; exit 1; }
done

# image name -> "binary cmd-dir exposed-ports(json)"
spec() {
	case $1 in
	operator) echo 'gorocket-operator operator {"8080/tcp":{},"8081/tcp":{}}' ;;
	broker) echo 'gorocket-broker broker {"10911/tcp":{},"10912/tcp":{}}' ;;
	namesrv) echo 'gorocket-namesrv nameserver {"9876/tcp":{}}' ;;
	*) echo "build-images: unknown image $1 (want operator, broker or namesrv)" >&2; return 1 ;;
	esac
}

sha() { sha256sum "$1" | cut -d' ' -f1; }
size() { wc -c <"$1" | tr -d ' '; }

build_one() {
	local image=$1 binary cmd ports
	read -r binary cmd ports < <(spec "$image")
	local tag="$REPO/$binary:$VERSION"
	local work
	work=$(mktemp -d)
	trap 'rm -rf "$work"' RETURN
	local rootfs=$work/rootfs
	mkdir -p "$rootfs/etc" "$rootfs/tmp" "$work/img/blobs/sha256"

	if [ -n "${BIN_DIR:-}" ]; then
		[ -f "$BIN_DIR/$binary" ] || { echo "build-images: $BIN_DIR/$binary not found" >&2; return 1; }
		cp "$BIN_DIR/$binary" "$rootfs/$binary"
	else
		echo "build-images: go build ./cmd/$cmd ($ARCH)" >&2
		(cd "$ROOT" && CGO_ENABLED=0 GOOS=linux GOARCH=$ARCH go build -trimpath \
			-ldflags "-s -w -X github.com/gorocket/gorocket/internal/operator/manager.Version=$VERSION" \
			-o "$rootfs/$binary" "./cmd/$cmd")
	fi
	chmod 0755 "$rootfs/$binary"
	printf 'root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/tmp:/sbin/nologin\n' >"$rootfs/etc/passwd"
	printf 'root:x:0:\nnonroot:x:65532:\n' >"$rootfs/etc/group"
	chmod 0644 "$rootfs/etc/passwd" "$rootfs/etc/group"
	chmod 1777 "$rootfs/tmp"
	chmod 0755 "$rootfs" "$rootfs/etc" # independent of the caller's umask

	# The layer: files owned by root, fixed mtime and order.
	tar --sort=name --mtime="@$EPOCH" --owner=0 --group=0 --numeric-owner --format=gnu \
		-C "$rootfs" -cf "$work/layer.tar" .
	local layer
	layer=$(sha "$work/layer.tar")
	local layer_size
	layer_size=$(size "$work/layer.tar")
	mv "$work/layer.tar" "$work/img/blobs/sha256/$layer"

	printf '{"architecture":"%s","os":"linux","created":"%s","config":{"User":"65532:65532","Entrypoint":["/%s"],"Env":["PATH=/","HOME=/tmp"],"WorkingDir":"/","ExposedPorts":%s,"Labels":{"org.opencontainers.image.title":"%s","org.opencontainers.image.version":"%s","org.opencontainers.image.source":"https://github.com/gorocket/gorocket"}},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]},"history":[{"created":"%s","created_by":"hack/build-images.sh"}]}' \
		"$ARCH" "$CREATED" "$binary" "$ports" "$binary" "$VERSION" "$layer" "$CREATED" >"$work/config.json"
	local config config_size
	config=$(sha "$work/config.json")
	config_size=$(size "$work/config.json")
	mv "$work/config.json" "$work/img/blobs/sha256/$config"

	printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"sha256:%s","size":%s}]}' \
		"$config" "$config_size" "$layer" "$layer_size" >"$work/manifest.oci.json"
	local manifest manifest_size
	manifest=$(sha "$work/manifest.oci.json")
	manifest_size=$(size "$work/manifest.oci.json")
	mv "$work/manifest.oci.json" "$work/img/blobs/sha256/$manifest"

	printf '{"imageLayoutVersion":"1.0.0"}' >"$work/img/oci-layout"
	printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"annotations":{"io.containerd.image.name":"docker.io/%s","org.opencontainers.image.ref.name":"%s"}}]}' \
		"$manifest" "$manifest_size" "$tag" "$VERSION" >"$work/img/index.json"
	printf '[{"Config":"blobs/sha256/%s","RepoTags":["%s"],"Layers":["blobs/sha256/%s"]}]' \
		"$config" "$tag" "$layer" >"$work/img/manifest.json"

	local out="$OUT/$binary-$VERSION-linux-$ARCH.tar"
	tar --sort=name --mtime="@$EPOCH" --owner=0 --group=0 --numeric-owner --format=gnu \
		-C "$work/img" -cf "$out.tmp" oci-layout index.json manifest.json blobs
	mv "$out.tmp" "$out"
	(cd "$OUT" && sha256sum "$(basename "$out")" >"$(basename "$out").sha256")
	echo "$out  $tag  sha256:$manifest"
}

for image in "${IMAGES[@]}"; do
	spec "$image" >/dev/null
	build_one "$image"
done
