"""`coordinator layers import|list|remove`: bring the city's GIS layers into the data directory.

geopandas and friends take a noticeable fraction of a second to import, so this module
imports them only inside the commands; `coordinator serve` and the other commands stay
as quick to start as before.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator
from functools import wraps
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

if TYPE_CHECKING:
    from .store import LayerInfo

Command = Callable[[argparse.Namespace], int]


class _LayerKinds:
    """LAYER_KINDS for argparse `choices`, read from the importer only when argparse asks."""

    def _kinds(self) -> tuple[str, ...]:
        from .importer import LAYER_KINDS

        return LAYER_KINDS

    def __contains__(self, value: object) -> bool:
        return value in self._kinds()

    def __iter__(self) -> Iterator[str]:
        return iter(self._kinds())


def add_layer_commands(sub: argparse._SubParsersAction, data_dir_default: str) -> None:  # type: ignore[type-arg]
    """Add `layers import`, `layers list` and `layers remove` to the `coordinator` parser."""
    layers = sub.add_parser("layers", help="Import and manage map layers (city property, sensitive sites).")
    commands = layers.add_subparsers(title="layers commands")
    _add_import(commands, data_dir_default)

    listing = commands.add_parser("list", help="List the stored layers, one per line.")
    _data_dir_option(listing, data_dir_default)
    listing.set_defaults(run=_list)

    remove = commands.add_parser("remove", help="Remove a stored layer.")
    remove.add_argument("name")
    _data_dir_option(remove, data_dir_default)
    remove.set_defaults(run=_remove)


def _add_import(commands: argparse._SubParsersAction, data_dir_default: str) -> None:  # type: ignore[type-arg]
    imp = commands.add_parser(
        "import",
        help="Import a GIS layer (GeoJSON, Shapefile, GeoPackage, FlatGeobuf, CSV lon/lat; path or URL).",
    )
    imp.add_argument("source", metavar="PATH_OR_URL")
    # A metavar keeps argparse from listing (and so importing) the kinds until help is shown.
    imp.add_argument(
        "--kind",
        required=True,
        choices=_LayerKinds(),
        metavar="KIND",
        help="what the layer holds: %(choices)s",
    )
    imp.add_argument("--name", required=True, help="the layer's name: lowercase letters, digits, _ and -")
    imp.add_argument("--name-field", help="the field holding each feature's name")
    category = imp.add_mutually_exclusive_group()
    category.add_argument("--category", help="one category for every feature (default: the kind)")
    category.add_argument("--category-field", help="the field holding each feature's category")
    imp.add_argument("--where", help="keep only matching features, e.g. \"OWNERSHIP == 'City of Boston'\"")
    imp.add_argument("--assume-crs", help="the CRS of a source that declares none, e.g. EPSG:2249")
    _data_dir_option(imp, data_dir_default)
    imp.set_defaults(run=_import)


def _data_dir_option(parser: argparse.ArgumentParser, default: str) -> None:
    parser.add_argument("--data-dir", default=default, help="where the data lives (created if absent)")


def _refusals_exit_2(command: Command) -> Command:
    """Print a refused layer as `error: ...` and exit 2, like the other commands' refusals."""

    @wraps(command)
    def run(args: argparse.Namespace) -> int:
        from .importer import LayerError

        try:
            return command(args)
        except LayerError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2

    return run


@_refusals_exit_2
def _import(args: argparse.Namespace) -> int:
    from .importer import is_url, read_layer
    from .store import LayerStore, check_layer_name

    name = check_layer_name(args.name)  # before a long read, not after it
    if sys.stderr.isatty():
        print(f"reading {args.source} ...", file=sys.stderr, flush=True)
    layer = read_layer(
        args.source,
        kind=args.kind,
        name_field=args.name_field,
        category=args.category,
        category_field=args.category_field,
        where=args.where,
        assume_crs=args.assume_crs,
    )
    source = _public_url(args.source) if is_url(args.source) else str(Path(args.source).resolve())
    info = LayerStore(Path(args.data_dir)).save(name, layer, kind=args.kind, source=source)
    print(
        f"imported layer {info.name}: kind {info.kind}, {info.features} features, "
        f"{layer.repaired} repaired, {layer.dropped_empty} dropped (empty geometry)"
    )
    return 0


@_refusals_exit_2
def _list(args: argparse.Namespace) -> int:
    from .store import LayerStore

    layers = LayerStore(Path(args.data_dir)).list()
    if not layers:
        print(f"no layers in {args.data_dir}", file=sys.stderr)
    for info in layers:
        print(_list_line(info))
    return 0


def _list_line(info: LayerInfo) -> str:
    return (
        f"{info.name}\t{info.kind}\t{info.features} features\t{info.repaired} repaired\t"
        f"{info.imported_at}\t{info.source}"
    )


@_refusals_exit_2
def _remove(args: argparse.Namespace) -> int:
    from .store import LayerStore

    LayerStore(Path(args.data_dir)).remove(args.name)
    print(f"removed layer {args.name}")
    return 0


def _public_url(url: str) -> str:
    """The URL without a user name or password, which must not end up in the manifest."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    host = f"[{host}]" if ":" in host else host  # an IPv6 literal keeps its brackets
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
