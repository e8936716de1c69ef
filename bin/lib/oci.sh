# Sourced by bin/node-up and bin/build-images: builds OCI images without a Docker engine, from a
# root file system directory, with Debian's umoci and skopeo, and imports them into the node's
# containerd. Images are imported once, under their final name: containerd keeps a stale name
# after a rename until it restarts (../shared design notes, "Images without a Docker engine").

# pack_image ROOTFS NAME:TAG ARCHIVE [umoci config flags...]: ARCHIVE becomes an oci-archive whose
# image is called localhost/NAME:TAG, with ROOTFS as its one layer.
pack_image() {
  local rootfs=$1 ref=$2 archive=$3
  shift 3
  local work tag=${ref##*:}
  work=$(mktemp -d "${TMPDIR:-/tmp}/jfs-csi-oci.XXXXXX")
  umoci init --layout "$work/layout"
  umoci new --image "$work/layout:$tag"
  umoci unpack --image "$work/layout:$tag" "$work/bundle" >/dev/null
  # -a keeps owners, modes, links and device nodes; the bundle's rootfs is empty before this.
  cp -a "$rootfs/." "$work/bundle/rootfs/"
  umoci repack --image "$work/layout:$tag" "$work/bundle"
  umoci config --image "$work/layout:$tag" "$@"
  rm -f "$archive.new"
  skopeo copy -q "oci:$work/layout:$tag" "oci-archive:$archive.new:localhost/$ref"
  mv "$archive.new" "$archive"
  rm -rf "$work"
}

# import_image ADDRESS ARCHIVE localhost/NAME:TAG: imports ARCHIVE into containerd's k8s.io
# namespace unless that name already points at the same manifest.
import_image() {
  local address=$1 archive=$2 ref=$3 want have
  want=$(tar -xOf "$archive" index.json | grep -o '"digest":"sha256:[0-9a-f]*"' | head -1 | cut -d'"' -f4)
  have=$(ctr --address "$address" -n k8s.io images ls | awk -v r="$ref" '$1 == r { print $3 }')
  [ -n "$want" ] && [ "$want" = "$have" ] && return 0
  [ -n "$have" ] && ctr --address "$address" -n k8s.io images rm "$ref" >/dev/null
  ctr --address "$address" -n k8s.io images import "$archive" >/dev/null
  have=$(ctr --address "$address" -n k8s.io images ls | awk -v r="$ref" '$1 == r { print $3 }')
  [ "$have" = "$want" ] || {
    echo "import of $archive did not produce $ref ($want)" >&2
    return 1
  }
}
