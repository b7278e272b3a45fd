"""The jar lock: what setup verifies, and the coordinates `footfall jars` prints."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from footfall.jars import JarLockError, jars_home, maven_coordinates, parse_dependency_list, verify_lock, write_lock


def test_resolved_jars_match_the_committed_lock() -> None:
    locked = verify_lock(jars_home() / "jars.lock", jars_home() / "lib")
    names = {j.file_name for j in locked}
    assert any(n.startswith("delta-spark_") for n in names)
    assert any(n.startswith("sedona-spark-shaded-") for n in names)
    # pyspark ships these; a second copy on the classpath is what the pom's exclusions prevent
    assert not any(n.startswith(("scala-library", "hadoop-", "parquet-", "jackson-core", "slf4j-")) for n in names)


def test_tampered_missing_or_extra_jar_fails_verification(tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    lib.mkdir()
    (lib / "a-1.jar").write_bytes(b"a")
    (lib / "b-1.jar").write_bytes(b"b")
    lock = tmp_path / "jars.lock"
    write_lock(lock, lib, {"a-1.jar": "g:a:1", "b-1.jar": "g:b:1"})
    assert [j.coordinate for j in verify_lock(lock, lib)] == ["g:a:1", "g:b:1"]

    (lib / "a-1.jar").write_bytes(b"A")
    with pytest.raises(JarLockError, match=r"a-1\.jar: sha256"):
        verify_lock(lock, lib)
    (lib / "a-1.jar").unlink()
    with pytest.raises(JarLockError, match=r"missing a-1\.jar"):
        verify_lock(lock, lib)
    shutil.copy(lib / "b-1.jar", lib / "c-1.jar")
    with pytest.raises(JarLockError, match=r"c-1\.jar is not in the lock"):
        verify_lock(lock, lib)


def test_parse_dependency_list_maps_files_to_coordinates() -> None:
    text = """
The following files have been resolved:
   io.delta:delta-spark_4.0_2.13:jar:4.4.0:compile
   org.datasyslab:geotools-wrapper:jar:1.8.0-33.1:compile
   org.example:native:jar:linux-x86_64:2.0:runtime
"""
    assert parse_dependency_list(text) == {
        "delta-spark_4.0_2.13-4.4.0.jar": "io.delta:delta-spark_4.0_2.13:4.4.0",
        "geotools-wrapper-1.8.0-33.1.jar": "org.datasyslab:geotools-wrapper:1.8.0-33.1",
        "native-2.0-linux-x86_64.jar": "org.example:native:2.0",
    }


def test_coordinates_are_the_direct_dependencies_of_the_pom() -> None:
    coordinates = maven_coordinates()
    assert [c.split(":")[1] for c in coordinates] == [
        "delta-spark_4.0_2.13",
        "sedona-spark-shaded-4.0_2.13",
        "geotools-wrapper",
    ]
