"""Read an image straight from a registry (HTTP API v2), streaming each layer once.

:class:`RegistrySource` walks manifest -> platform -> config -> layers, every digest verified: bytes
from the network are never trusted, so ``verify`` is always on here. The parts it stands on live
beside it: references in :mod:`registry_ref`, HTTP with retries in :mod:`registry_http`, resumable
layer reads in :mod:`registry_blobs`.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator, Sequence

from deadweight.errors import SourceError
from deadweight.model.image import ImageConfig, LayerDescriptor, Platform
from deadweight.sources.auth import Credentials, strip_userinfo
from deadweight.sources.base import ByteStream, ImageSource, OpenedLayer, SourceOptions
from deadweight.sources.manifest import (
    DOCKER_SCHEMA1,
    is_index,
    layer_compression,
    parse_config,
    parse_index,
    parse_manifest,
    select_platform,
)
from deadweight.sources.readahead import ReadAhead, pipelined
from deadweight.sources.registry_blobs import BlobReader
from deadweight.sources.registry_http import RegistryClient, RetryPolicy, verify_digest
from deadweight.sources.registry_ref import parse_image_ref
from deadweight.sources.streams import ReadStream, StreamedLayer, close_stream

#: MiB of the next layer's blob fetched while the current layer is read (with more than one thread).
PREFETCH_DEPTH = 16


class RegistrySource(ImageSource):
    """``registry:HOST[:PORT]/REPO[:TAG|@DIGEST]``: manifest, config and layers over HTTP.

    Every byte is verified: the manifest against a pinned digest (the ref's or the index's), the
    config against the manifest, each layer blob against its digest and its uncompressed tar against
    the config's diff id. Network reads happen lazily, on the first ``config()``/``layers()``.
    """

    def __init__(
        self,
        ref: str,
        options: SourceOptions | None = None,
        *,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        credentials: Callable[[], Credentials | None] | None = None,
    ) -> None:
        name = ref.removeprefix("registry:")
        self._options = options or SourceOptions()
        self.image = parse_image_ref(name)
        self.label = strip_userinfo(name).strip()
        self.ref = f"registry:{self.label}"
        self._where = f"registry {self.label}"
        self._wanted = Platform.parse(self._options.platform) if self._options.platform else None
        self._client = RegistryClient(
            self.image, self._options, label=self.label, retry=retry, sleep=sleep, credentials=credentials
        )
        self._config: ImageConfig | None = None
        self._layers: tuple[LayerDescriptor, ...] = ()
        #: Digest of the image manifest actually read (the platform's, when the ref names an index).
        self.manifest_digest: str | None = None

    # -- ImageSource ------------------------------------------------------------------------

    def config(self) -> ImageConfig:
        return self._load()

    def layers(self) -> Sequence[LayerDescriptor]:
        self._load()
        return self._layers

    def iter_layers(self, *, verify: bool = False) -> Iterator[OpenedLayer]:
        del verify  # network bytes are always verified
        descriptors = list(self.layers())
        ahead = pipelined()
        upcoming: ByteStream | None = self._open_blob(descriptors[0], ahead) if descriptors else None
        try:
            for position, descriptor in enumerate(descriptors):
                raw = upcoming if upcoming is not None else self._open_blob(descriptor, ahead)
                upcoming = None
                layer = StreamedLayer(
                    descriptor,
                    raw,
                    self._where,
                    verify=True,
                    compression=layer_compression(descriptor.media_type),
                    readahead=ahead,
                )
                try:
                    if ahead and position + 1 < len(descriptors):
                        # the next blob downloads (a bounded PREFETCH_DEPTH MiB of it) while this one is read
                        upcoming = self._open_blob(descriptors[position + 1], ahead)
                    yield layer
                finally:
                    layer.close()
        finally:
            if upcoming is not None:
                close_stream(upcoming)

    def _open_blob(self, descriptor: LayerDescriptor, ahead: bool) -> ByteStream:
        if descriptor.digest is None:  # pragma: no cover - parse_manifest requires digests
            raise SourceError(f"{self._where}: layer {descriptor.index} has no digest")
        reader = BlobReader(self._client, descriptor.digest, f"layer {descriptor.index}")
        stream = ReadStream(reader, self._where)
        if not ahead:
            return stream
        try:
            return ReadAhead(stream, self._where, depth=PREFETCH_DEPTH, name="prefetch")
        except BaseException:
            reader.close()
            raise

    def close(self) -> None:
        self._client.close()

    # -- loading ----------------------------------------------------------------------------

    def _load(self) -> ImageConfig:
        if self._config is not None:
            return self._config
        body, media_type = self._client.get_manifest(self.image.reference)
        digest = self.image.digest
        if digest:
            verify_digest(body, digest, f"{self._where}: manifest")
        from_index = False
        if media_type in DOCKER_SCHEMA1:
            raise SourceError(f"{self._where}: Docker schema 1 manifests are not supported (re-push it)")
        if is_index(media_type, body):
            entries = parse_index(body, self._where)
            entry = select_platform(entries, self._wanted, self._where)
            body, media_type = self._client.get_manifest(entry.digest)
            verify_digest(body, entry.digest, f"{self._where}: manifest for {entry.platform or 'the image'}")
            digest, from_index = entry.digest, True
        manifest = parse_manifest(body, self._where)
        self.manifest_digest = digest or "sha256:" + hashlib.sha256(body).hexdigest()
        config_body = self._client.get_blob(manifest.config_digest, "config")
        config = parse_config(config_body, manifest.config_digest, self._where)
        if len(config.diff_ids) != len(manifest.layers):
            raise SourceError(
                f"{self._where}: manifest lists {len(manifest.layers)} layers but the config has "
                f"{len(config.diff_ids)} diff ids"
            )
        if self._wanted is not None and not from_index and not config.platform.matches(self._wanted):
            raise SourceError(f"{self._where}: the image is {config.platform}, not {self._wanted}")
        self._layers = tuple(
            LayerDescriptor(
                index=layer.index,
                digest=layer.digest,
                diff_id=config.diff_ids[layer.index],
                media_type=layer.media_type,
                compressed_size=layer.compressed_size,
            )
            for layer in manifest.layers
        )
        self._config = config
        return config
