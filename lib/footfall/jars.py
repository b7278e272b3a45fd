"""The JVM side: Maven coordinates from jars/pom.xml, and the lock that pins each resolved jar by sha256."""

from __future__ import annotations

import hashlib
import os
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

_POM_NS = {"m": "http://maven.apache.org/POM/4.0.0"}


class JarLockError(RuntimeError):
    """The resolved jars do not match jars/jars.lock."""


@dataclass(frozen=True)
class LockedJar:
    """One line of the lock file: a resolved jar, its Maven coordinate and its sha256."""

    coordinate: str
    file_name: str
    sha256: str


def repo_root() -> Path:
    """Return the checkout that holds jars/pom.xml (FOOTFALL_HOME wins, else the source tree of this package)."""
    if env := os.environ.get("FOOTFALL_HOME"):
        return Path(env).resolve()
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "jars" / "pom.xml").is_file():
            return parent
    return Path.cwd().resolve()


def jars_home(root: Path | None = None) -> Path:
    """Return the folder with jars/pom.xml, jars/jars.lock and the git-ignored jars/lib/."""
    return (root or repo_root()) / "jars"


def maven_coordinates(pom: Path | None = None) -> list[str]:
    """Return the direct dependencies of jars/pom.xml as group:artifact:version, for `--packages`."""
    tree = ET.parse(pom or jars_home() / "pom.xml")
    coordinates = []
    for dep in tree.getroot().iterfind("m:dependencies/m:dependency", _POM_NS):
        parts = [
            dep.findtext(f"m:{tag}", default="", namespaces=_POM_NS) for tag in ("groupId", "artifactId", "version")
        ]
        coordinates.append(":".join(parts))
    return coordinates


def sha256_of(path: Path) -> str:
    """Return the hex sha256 of a file."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_lock(lock: Path) -> list[LockedJar]:
    """Parse jars.lock: one `coordinate file sha256` per line, `#` starts a comment."""
    jars = []
    for line in lock.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            coordinate, file_name, sha = line.split()
            jars.append(LockedJar(coordinate, file_name, sha))
    return jars


def write_lock(lock: Path, lib: Path, coordinates_by_file: dict[str, str]) -> list[LockedJar]:
    """Write jars.lock for every jar in `lib`, with coordinates from `mvn dependency:list`."""
    jars = [
        LockedJar(coordinates_by_file.get(path.name, "?"), path.name, sha256_of(path))
        for path in sorted(lib.glob("*.jar"))
    ]
    header = "# Resolved by `make lock` from jars/pom.xml; `make setup` verifies every jar in jars/lib against it.\n"
    lock.write_text(header + "".join(f"{j.coordinate} {j.file_name} {j.sha256}\n" for j in jars))
    return jars


def verify_lock(lock: Path, lib: Path) -> list[LockedJar]:
    """Check that `lib` holds exactly the locked jars with their sha256; raise JarLockError naming each mismatch."""
    locked = read_lock(lock)
    problems = []
    present = {p.name for p in lib.glob("*.jar")}
    for jar in locked:
        path = lib / jar.file_name
        if not path.is_file():
            problems.append(f"missing {jar.file_name}")
        elif (actual := sha256_of(path)) != jar.sha256:
            problems.append(f"{jar.file_name}: sha256 {actual} but the lock says {jar.sha256}")
    problems += [f"{name} is not in the lock" for name in sorted(present - {j.file_name for j in locked})]
    if problems:
        raise JarLockError(f"jars in {lib} do not match {lock}: " + "; ".join(problems))
    return locked


def local_jar_paths(root: Path | None = None) -> list[Path]:
    """Return the resolved jars for a local session, or raise JarLockError when setup has not run."""
    lib = jars_home(root) / "lib"
    jars = sorted(lib.glob("*.jar"))
    if not jars:
        raise JarLockError(f"no jars in {lib}: run `make setup` first")
    return jars


def parse_dependency_list(text: str) -> dict[str, str]:
    """Map jar file names to group:artifact:version from the output of `mvn dependency:list`."""
    by_file = {}
    for line in text.splitlines():
        parts = line.strip().split(":")
        # group:artifact:type[:classifier]:version:scope
        if len(parts) not in (5, 6) or parts[2] != "jar":
            continue
        group, artifact = parts[0], parts[1]
        version = parts[-2]
        classifier = f"-{parts[3]}" if len(parts) == 6 else ""
        by_file[f"{artifact}-{version}{classifier}.jar"] = f"{group}:{artifact}:{version}"
    return by_file
