# -*- coding: utf-8 -*-
# Copyright: embedserve.vllm contributors
# Apache License 2.0 (see LICENSE)
"""What a module reports when it fails: one bounded message, never a traceback.

Modules catch their expected errors (ValueError subclasses whose messages name
the catalogue entry and field) and, as a last resort, any other exception, so
no input can make a run print a Python traceback or megabytes of text.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

# Far more than any useful message; a catalogue's problem list is bounded
# before this, the cap only stops pathological inputs.
MESSAGE_MAX = 16000


def bounded(text, limit=MESSAGE_MAX):
    """text cut to at most limit characters, saying how much was left out."""
    text = str(text)
    if len(text) <= limit:
        return text
    return "%s\n... (%d more characters left out)" % (text[:limit], len(text) - limit)


def unexpected(exc, doing):
    """The message for an error no check anticipated: what was being done, the error type and its text."""
    return bounded("unexpected %s while %s: %s; nothing was changed. Please report this with the input that caused "
                   "it." % (type(exc).__name__, doing, exc), limit=2000)


def range_problems(params, ranges):
    """Messages for options outside their range (ranges: option -> (minimum, maximum), None for no bound), checked
    before a module reads a file or opens a connection. Unset (None) options are skipped."""
    problems = []
    for name in sorted(ranges):
        value = params.get(name)
        if value is None:
            continue
        low, high = ranges[name]
        if (low is not None and value < low) or (high is not None and value > high):
            kind = "an integer" if isinstance(value, int) else "a number"
            problems.append("%s must be %s between %s and %s, got %s" % (
                name, kind, "-inf" if low is None else low, "inf" if high is None else high, value))
    return problems
