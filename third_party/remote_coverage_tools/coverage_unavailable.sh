#!/bin/sh
# `bazel coverage` needs tools Bazel 4 would download; this offline checkout does not ship them.
echo "coverage is not available offline: remote_coverage_tools is a local stand-in" >&2
exit 1
