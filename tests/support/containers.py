"""Podman for the image test (tests/e2e/test_container_image.py): builds and runs the repository's Dockerfile
without a Docker engine.

Two things of these machines shape how podman is called:
- the sandbox withholds CAP_SYS_RESOURCE, so an OCI runtime cannot set the default rlimits it asks for (nofile
  1048576, nproc above the kernel's pid_max): every build and run passes limits the host already has;
- cgroups are mounted in hybrid mode, which crun refuses; runc accepts it.
No registry is reachable for a base image, so the test makes one (`localhost/membank-test-base`) from Debian's
packages with debootstrap: Debian bookworm's Python 3.11 laid out like the official python:3.11-slim image (python
and pip on PATH, no EXTERNALLY-MANAGED marker), with the host's CA bundle and pip configuration so that pip inside
the build reaches PyPI through the same egress as the host. Its root filesystem is kept as a tarball in
~/.cache/membank/images and imported again when podman's store lost the image."""

from __future__ import annotations

import fcntl
import resource
import shutil
import subprocess
import tarfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["BASE_IMAGE", "ensure_base_image", "missing_tools", "podman", "podman_limits"]

BASE_IMAGE = "localhost/membank-test-base:bookworm"
_CACHE = Path.home() / ".cache" / "membank" / "images"
_ROOTFS_TARBALL = _CACHE / "membank-test-base-bookworm.tar"
_DEBIAN_MIRROR = "http://deb.debian.org/debian"
_BASE_PACKAGES = "python3,python3-venv,python3-pip,ca-certificates"


def missing_tools() -> list[str]:
    """The programs the image test needs that this machine lacks (`make install` installs them)."""
    return [tool for tool in ("podman", "runc", "debootstrap") if shutil.which(tool) is None]


def podman_limits() -> list[str]:
    """rlimit flags within what the host grants (see the module docstring)."""
    _, nofile = resource.getrlimit(resource.RLIMIT_NOFILE)
    _, nproc = resource.getrlimit(resource.RLIMIT_NPROC)
    pid_max = int(Path("/proc/sys/kernel/pid_max").read_text())
    nproc = pid_max if nproc == resource.RLIM_INFINITY else min(nproc, pid_max)
    if nofile == resource.RLIM_INFINITY:
        nofile = 1 << 20
    return ["--ulimit", f"nofile={nofile}:{nofile}", "--ulimit", f"nproc={nproc}:{nproc}"]


def podman(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["podman", "--runtime", "runc", *args], capture_output=True, text=True, timeout=timeout
    )


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _build_rootfs_tarball() -> None:
    rootfs = _CACHE / "rootfs.build"
    shutil.rmtree(rootfs, ignore_errors=True)
    subprocess.run(
        [
            "debootstrap",
            "--variant=minbase",
            f"--include={_BASE_PACKAGES}",
            "bookworm",
            str(rootfs),
            _DEBIAN_MIRROR,
        ],
        check=True,
        capture_output=True,
        timeout=900,
    )
    shutil.copyfile("/etc/ssl/certs/ca-certificates.crt", rootfs / "etc/ssl/certs/ca-certificates.crt")
    if Path("/etc/pip.conf").is_file():
        shutil.copyfile("/etc/pip.conf", rootfs / "etc/pip.conf")
    (rootfs / "usr/lib/python3.11/EXTERNALLY-MANAGED").unlink(missing_ok=True)
    (rootfs / "usr/local/bin/python").symlink_to("/usr/bin/python3")
    for package in (rootfs / "var/cache/apt/archives").glob("*.deb"):
        package.unlink()
    partial = _ROOTFS_TARBALL.with_suffix(".partial")
    with tarfile.open(partial, "w") as tarball:
        tarball.add(rootfs, arcname=".")
    partial.rename(_ROOTFS_TARBALL)
    shutil.rmtree(rootfs)


def ensure_base_image() -> str:
    """The base image's name, made first if podman does not have it (about 2.5 minutes once per machine)."""
    with _locked(_CACHE / "base.lock"):
        if podman("image", "exists", BASE_IMAGE).returncode == 0:
            return BASE_IMAGE
        if not _ROOTFS_TARBALL.is_file():
            _build_rootfs_tarball()
        imported = subprocess.run(
            [
                "podman", "import",
                "--change", "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                str(_ROOTFS_TARBALL), BASE_IMAGE,
            ],
            capture_output=True, text=True, timeout=600,
        )  # fmt: skip
        assert imported.returncode == 0, f"podman import failed: {imported.stderr}"
    return BASE_IMAGE
