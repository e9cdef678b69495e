"""The BM25 top-k kernel compiled by numba: what `BM25Index.top_k` runs on large indexes.

It returns exactly what the numpy path returns — the k best passages with a positive score, each
score the float64 sum, in the query's term order, of count * weight (computed in the weights' dtype),
ties to the lower row — but sums in the weights' own dtype (float32: half the memory traffic of
float64) to choose a shortlist, and never sorts or filters all passages:

1. Scatter-add each term's contributions into `scratch` (weights' dtype, one slot per passage, all
   zero between calls).
2. Candidates, and every slot back to zero. A query with many postings (postings * DENSE_SHARE >=
   passages) takes a lower bound of the k-th largest value from the distinct passages of its rarest
   terms, then scans all slots in blocks (a vectorised count per block; only blocks holding a value
   at or above the bound are read one by one), and zeroes the slots with one memset. A query with
   few postings noted each passage in `touched` at its first visit, and reads and zeroes just those.
3. For the candidates within the rounding slack of the k-th largest value, the exact float64 score
   term by term in query order (binary search in each term's sorted postings); the k best by
   (score descending, row ascending).

Why the shortlist cannot miss a passage: contributions are never negative (BM25 weights are idf >= 0
times a positive tf part; the kernel checks each term's postings at its first use and answers
NEGATIVE, for the caller to use numpy, if one is not), so a sum of T of them rounded in a float with
unit u is within about T u of the real sum, relatively. With slack = 4 T u, every passage of the
true top k has a step-1 value at least (1 - slack) times the k-th largest step-1 value.
tests/test_bm25.py compares the two paths on random corpora full of exact ties and on SciFact.

The first-use check also refuses (DAMAGED) a posting whose row is outside the index: numba does not
check bounds, so a damaged memory-mapped file must not make it write outside the buffer. Per-call
memory lives in buffers the caller keeps: allocating megabytes per query costs page faults.

Compiled once per machine (`cache=True`: numba keeps the machine code beside this file, or in its
user cache directory when that folder is read-only; compiling takes ~5-20 s); later processes load it
in about 0.1 s, after about 0.25 s to import numba. Small helpers are written out in place: a jitted
call that takes arrays costs reference counting per call, which per posting is slower than the work.
"""

from __future__ import annotations

import numpy as np
from numba import njit

NEGATIVE = -1  # status: a contribution is negative, the shortlist bound does not hold; use numpy
DAMAGED = -2  # status: a posting names a row outside the index
DENSE_SHARE = 8  # scan all slots (not the touched list) when postings * DENSE_SHARE >= passages
BLOCK = 256  # slots per block of that scan


@njit(cache=True, nogil=True, inline="always")
def _before(s1, r1, s2, r2):  # noqa: ANN001, ANN202
    """Whether (s1, r1) ranks before (s2, r2): higher score, then lower row."""
    return s1 > s2 or (s1 == s2 and r1 < r2)


@njit(cache=True, nogil=True)
def _sift_down(heap_scores, heap_rows, i, size):  # noqa: ANN001, ANN202
    """Restore the heap below i: every parent ranks after its children (the worst kept is on top)."""
    while True:
        child = 2 * i + 1
        if child >= size:
            return
        right = child + 1
        if right < size and _before(heap_scores[child], heap_rows[child], heap_scores[right], heap_rows[right]):
            child = right
        if _before(heap_scores[i], heap_rows[i], heap_scores[child], heap_rows[child]):
            heap_scores[i], heap_scores[child] = heap_scores[child], heap_scores[i]
            heap_rows[i], heap_rows[child] = heap_rows[child], heap_rows[i]
            i = child
        else:
            return


@njit(cache=True, nogil=True)
def _find(indices, start, end, row):  # noqa: ANN001, ANN202
    """Position of `row` in the sorted indices[start:end], or -1."""
    lo, hi = start, end
    while lo < hi:
        mid = (lo + hi) >> 1
        if indices[mid] < row:
            lo = mid + 1
        else:
            hi = mid
    return lo if lo < end and indices[lo] == row else -1


@njit(cache=True, nogil=True)
def _empty(status):  # noqa: ANN001, ANN202
    return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float64), status


@njit(cache=True, nogil=True)
def _kth_largest(values, count, k):  # noqa: ANN001, ANN202
    """The k-th largest of values[:count], or 0.0 when count < k (a min-heap of the k largest)."""
    if count < k:
        return 0.0
    heap = np.empty(k, dtype=np.float64)
    heap[:] = values[:k]
    heap.sort()  # ascending order is a valid min-heap
    for t in range(k, count):
        value = values[t]
        if value > heap[0]:
            heap[0] = value
            i = 0
            while True:
                child = 2 * i + 1
                if child >= k:
                    break
                if child + 1 < k and heap[child + 1] < heap[child]:
                    child += 1
                if heap[child] < heap[i]:
                    heap[child], heap[i] = heap[i], heap[child]
                    i = child
                else:
                    break
    return heap[0]


@njit(cache=True, nogil=True)
def top_k_kernel(indptr, indices, weights, rows, counts, k, scratch, touched, values, unit, checked):  # noqa: ANN001, ANN201
    """(rows, scores, status): the k best passages with a positive score, best first, and the number
    of postings the query has (or NEGATIVE / DAMAGED, with empty arrays).

    `rows`/`counts`: the query's term rows and how often each occurs, in query order; `counts` has
    the dtype of `weights`. `scratch` (weights' dtype, one slot per passage, all zero) is all zero
    again on return. `touched` (int32) and `values` (float64) are workspace; when shorter than the
    query's postings nothing is done and the status is that number of postings: call again with
    longer ones. `unit`: the roundoff unit of the weights' dtype. `checked` (uint8, one per term):
    1 once a term's postings were found in range and >= 0, which the kernel checks at first use."""
    n_terms = rows.shape[0]
    n_docs = scratch.shape[0]
    total = 0
    for j in range(n_terms):
        start, end = indptr[rows[j]], indptr[rows[j] + 1]
        total += end - start
        if checked[rows[j]] == 0:
            for p in range(start, end):
                if indices[p] < 0 or indices[p] >= n_docs:
                    return _empty(DAMAGED)
                if not weights[p] >= 0:
                    return _empty(NEGATIVE)
            checked[rows[j]] = 1
    if total > touched.shape[0] or total > values.shape[0]:
        return _empty(total)
    slack = 4.0 * n_terms * unit

    # 1. scatter-add in the weights' dtype
    dense = total * DENSE_SHARE >= n_docs
    m = 0
    for j in range(n_terms):
        count = counts[j]
        if dense:
            for p in range(indptr[rows[j]], indptr[rows[j] + 1]):
                scratch[indices[p]] += count * weights[p]
        else:
            for p in range(indptr[rows[j]], indptr[rows[j] + 1]):
                row = indices[p]
                slot = scratch[row]
                touched[m] = row
                m += slot == 0  # branch-free: the row is kept only when this is its first visit
                scratch[row] = slot + count * weights[p]

    # 2. the candidates (touched[:c], values[:c]), every slot back to zero
    c = 0
    if dense:
        # A lower bound of the k-th largest value: the k-th largest over the distinct passages of the
        # query's rarest terms (an eighth of its postings at most; each passage read once: its slot
        # is negated when read, and restored after). Then a scan of all slots, skipping blocks below.
        by_size = np.argsort(indptr[rows + 1] - indptr[rows])
        sampled = 0
        last = 0
        for j in by_size:
            start, end = indptr[rows[j]], indptr[rows[j] + 1]
            if sampled > 0 and sampled + end - start > total // 8:
                break
            sampled += end - start
            last += 1
            for p in range(start, end):
                value = scratch[indices[p]]
                if value > 0:
                    values[c] = value
                    c += 1
                    scratch[indices[p]] = -value
        floor = _kth_largest(values, c, k) * (1 - slack)
        for j in by_size[:last]:
            for p in range(indptr[rows[j]], indptr[rows[j] + 1]):
                scratch[indices[p]] = abs(scratch[indices[p]])
        c = 0
        cut = np.empty_like(scratch[:1])  # the floor in the slots' dtype, so the scan compares like with like
        cut[0] = floor  # rounding to nearest moves it by at most one unit: within the slack's spare quarter
        level = cut[0]
        for start in range(0, n_docs, BLOCK):
            block = scratch[start : min(start + BLOCK, n_docs)]
            hits = np.uint32(0)
            for i in range(block.shape[0]):  # branch-free count, so it vectorises
                hits += np.uint32(block[i] >= level)
            if hits:
                for i in range(block.shape[0]):
                    if block[i] >= level and block[i] > 0:
                        touched[c] = start + i
                        values[c] = block[i]
                        c += 1
        scratch[:] = 0
    else:
        for t in range(m):
            row = touched[t]
            value = scratch[row]
            scratch[row] = 0
            if value > 0:
                touched[c] = row  # c <= t: overwrites only entries already read
                values[c] = value
                c += 1

    # 3. exact float64 scores, in query order, for the candidates within the slack of the k-th
    #    largest value; the k best by (score descending, row ascending)
    threshold = _kth_largest(values, c, k) * (1 - slack)
    size = min(k, c)
    heap_scores = np.empty(size, dtype=np.float64)
    heap_rows = np.empty(size, dtype=np.int64)
    n = 0
    for t in range(c):
        if values[t] < threshold:
            continue
        row = touched[t]
        score = 0.0
        for j in range(n_terms):
            p = _find(indices, indptr[rows[j]], indptr[rows[j] + 1], row)
            if p >= 0:
                score += counts[j] * weights[p]
        if n < size:  # push, then sift the new entry up while it ranks after its parent
            i = n
            heap_scores[i] = score
            heap_rows[i] = row
            n += 1
            while i > 0:
                parent = (i - 1) // 2
                if _before(heap_scores[parent], heap_rows[parent], heap_scores[i], heap_rows[i]):
                    heap_scores[parent], heap_scores[i] = heap_scores[i], heap_scores[parent]
                    heap_rows[parent], heap_rows[i] = heap_rows[i], heap_rows[parent]
                    i = parent
                else:
                    break
        elif _before(score, row, heap_scores[0], heap_rows[0]):  # better than the worst kept: replace it
            heap_scores[0] = score
            heap_rows[0] = row
            _sift_down(heap_scores, heap_rows, 0, n)
    end = n
    while end > 1:  # heap sort: move the worst kept to the back, best ends up first
        end -= 1
        heap_scores[0], heap_scores[end] = heap_scores[end], heap_scores[0]
        heap_rows[0], heap_rows[end] = heap_rows[end], heap_rows[0]
        _sift_down(heap_scores, heap_rows, 0, end)
    return heap_rows[:n], heap_scores[:n], total
