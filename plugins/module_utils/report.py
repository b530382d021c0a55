# -*- coding: utf-8 -*-
# Copyright: embedserve.vllm contributors
# Apache License 2.0 (see LICENSE)
"""Plain-text tables for the end of a run."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


def text_table(rows, columns):
    """Lines of a left-aligned table; columns is a list of (key, heading)."""
    cells = [[heading for _key, heading in columns]]
    for row in rows or []:
        cells.append(["-" if row.get(key) is None else str(row.get(key)) for key, _heading in columns])
    widths = [max(len(line[i]) for line in cells) for i in range(len(columns))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(line, widths)).rstrip() for line in cells]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return lines
