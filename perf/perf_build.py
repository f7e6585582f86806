"""perf_build — the one meson build directory the perf scripts measure.

perf/run, perf/bench and perf/load/vs-smtp-source never guess among the
tree's build*/ directories (a half-built or sanitizer one spoils a run):
they use --build DIR, or build-perf at the top of the tree by default.
A directory that does not exist yet is configured with
--buildtype=release; the targets a script needs are then brought up to
date with ninja, so the figures are for the sources as they are.  A build
with sanitizers is refused.
"""
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT = os.path.join(ROOT, "build-perf")


def options(build):
    """meson's build options of build, as a dict (empty if unreadable)."""
    try:
        with open(os.path.join(build, "meson-info",
                               "intro-buildoptions.json")) as f:
            return {o["name"]: o["value"] for o in json.load(f)}
    except (OSError, ValueError, KeyError):
        return {}


def ensure(build, targets, who):
    """The absolute path of build, configured and with targets (ninja
    target names; None: everything) built.  Exits with a message when it
    cannot be."""
    build = os.path.abspath(build or DEFAULT)
    if not os.path.exists(os.path.join(build, "build.ninja")):
        print("%s: configuring %s (--buildtype=release)" % (who, build),
              file=sys.stderr, flush=True)
        r = subprocess.run(["meson", "setup", "--buildtype=release", build],
                           cwd=ROOT, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)
        if r.returncode != 0:
            sys.exit("%s: meson setup %s failed:\n%s" %
                     (who, build, r.stdout[-2000:]))
    if options(build).get("b_sanitize", "none") != "none":
        sys.exit("%s: %s is built with sanitizers: its figures would "
                 "mean nothing; use another --build" % (who, build))
    r = subprocess.run(["ninja", "-C", build] + (targets or []),
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True)
    if r.returncode != 0:
        sys.exit("%s: ninja -C %s failed:\n%s" % (who, build,
                                                  r.stdout[-3000:]))
    return build


def describe(build):
    """What a result file records about the build."""
    o = options(build)
    return {"dir": os.path.relpath(build, ROOT),
            "buildtype": o.get("buildtype"), "b_sanitize":
            o.get("b_sanitize"), "dpdk": o.get("dpdk")}
