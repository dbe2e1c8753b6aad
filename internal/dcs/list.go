package dcs

import (
	"context"
	"fmt"
	"net/url"
	"reflect"
	"strconv"
	"time"
)

// ListPage fetches one page of the task list: rows from offset on, at most
// limit (1..1000) of them, filtered by name when name is not empty. count is
// the total the API reports, -1 if it does not say.
func (c *Client) ListPage(ctx context.Context, offset, limit int, name string) (rows []Task, count int, info Info, err error) {
	defer c.observed(opList, time.Now(), &err)
	if offset < 0 || limit < 1 || limit > MaxListLimit {
		return nil, 0, Info{}, apiErrorf(opList, "", ErrRequest, "offset %d, limit %d: want offset >= 0 and limit 1..%d", offset, limit, MaxListLimit)
	}
	q := url.Values{}
	q.Set("offset", strconv.Itoa(offset))
	q.Set("limit", strconv.Itoa(limit))
	if name != "" {
		q.Set("name", name)
	}
	body, info, err := c.get(ctx, opList, "", "migration-tasks", q)
	if err != nil {
		return nil, 0, info, err
	}
	rows, count, err = decodeList(body)
	if err != nil {
		return nil, 0, info, c.badResponse(opList, "", info, fmt.Errorf("decode list: %w", err))
	}
	return rows, count, info, nil
}

// List returns every task (filtered by name when not empty), paging with
// the largest page. It stops when it has count rows or a page comes back
// empty or short; a task seen twice with the same content (the list moved
// between pages) is kept once, one seen twice with different content
// makes the list fail with ErrBadResponse. A list that runs past the pages
// the first count announced (plus slack for tasks created meanwhile), or a
// page of nothing but rows seen
// before, fails with ErrBadResponse rather than loop for ever.
//
// A list whose rows disagree with its count (the last page's), or a page
// without migration_tasks, fails with ErrBadResponse too: the caller would
// otherwise take tasks it was not shown for gone.
//
// With ListConcurrency above 1, the pages the first one announces are
// fetched ahead, that many at a time; the walk over them is the same.
//
// Each row is its own allocation, not an element of one array for the
// list: a caller done with a row lets it go while it keeps the others (a
// cold start drops each row once it is a snapshot, not 60 MB of rows at
// 100k tasks at the end of the cycle).
func (c *Client) List(ctx context.Context, name string) ([]*Task, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // stops prefetches nobody will read
	var (
		all      []*Task
		seen     = map[string]int{} // index in all by task id
		offset   int
		last     = -1 // the count of the last page that gave one
		maxPages = -1
		ahead    map[int]chan pageResult // prefetched pages by offset
	)
	for page := 0; ; page++ {
		if maxPages >= 0 && page >= maxPages {
			return nil, apiErrorf(opList, "", ErrBadResponse, "list did not end after %d pages", page)
		}
		var r pageResult
		if ch, ok := ahead[offset]; ok {
			r = <-ch
		} else {
			r.rows, r.count, _, r.err = c.ListPage(ctx, offset, MaxListLimit, name)
		}
		rows, count, err := r.rows, r.count, r.err
		if err != nil {
			return nil, fmt.Errorf("list page %d: %w", page+1, err)
		}
		if count >= 0 {
			last = count
		}
		if maxPages < 0 {
			if count >= 0 && c.announced != nil {
				c.announced(count)
			}
			maxPages = listPageBudget(count)
			ahead = c.prefetch(ctx, name, len(rows), count)
			// The count says how many rows come: room for all of them
			// at once, not in a slice that doubles as pages come.
			all = make([]*Task, 0, listRoom(count, len(rows)))
			seen = make(map[string]int, cap(all))
		}
		fresh := 0
		for j := range rows {
			t := &rows[j]
			i, dup := seen[t.ID]
			switch {
			case !dup:
				seen[t.ID] = len(all)
				row := new(Task)
				*row = *t
				all = append(all, row)
				fresh++
			case !reflect.DeepEqual(all[i], t):
				// Which row is the task's? Neither can be trusted.
				return nil, apiErrorf(opList, "", ErrBadResponse, "task %s listed twice with different content (page %d)", t.ID, page+1)
			}
		}
		if len(rows) > 0 && fresh == 0 {
			return nil, apiErrorf(opList, "", ErrBadResponse, "page %d repeats earlier rows only (offset ignored?)", page+1)
		}
		offset += len(rows)
		if len(rows) == 0 || len(rows) < MaxListLimit && count < 0 || count >= 0 && offset >= count {
			if last >= 0 && len(all) != last {
				return nil, apiErrorf(opList, "", ErrBadResponse, "count says %d tasks, the pages held %d", last, len(all))
			}
			return all, nil
		}
	}
}

type pageResult struct {
	rows  []Task
	count int
	err   error
}

// prefetch starts fetching the full pages after the first (of first rows)
// that count announces, listConc at a time, and returns their results by
// offset. Nothing is prefetched when the first page was not full or the
// answer gave no count.
func (c *Client) prefetch(ctx context.Context, name string, first, count int) map[int]chan pageResult {
	if c.listConc < 2 || first != MaxListLimit || count <= first {
		return nil
	}
	ahead := map[int]chan pageResult{}
	sem := make(chan struct{}, c.listConc)
	for off := first; off < count; off += MaxListLimit {
		ch := make(chan pageResult, 1)
		ahead[off] = ch
		go func() {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				ch <- pageResult{err: ctx.Err()}
				return
			}
			defer func() { <-sem }()
			var r pageResult
			r.rows, r.count, _, r.err = c.ListPage(ctx, off, MaxListLimit, name)
			ch <- r
		}()
	}
	return ahead
}

// maxListRoom bounds the room made ahead for a list: a count the pages
// will not bear out (bad input) costs at most this many rows' room (a
// pointer each and an index entry, about 10 MB); a larger fleet's list
// grows beyond it as before.
const maxListRoom = 200_000

// listRoom is the room made for a list the first page says holds count
// rows (-1: it does not say) and whose first page held first.
func listRoom(count, first int) int {
	return min(max(count, first), max(first, maxListRoom))
}

// listPageBudget allows the pages count needs plus two for tasks created
// while paging, and never more than maxListPages.
func listPageBudget(count int) int {
	const maxListPages = 10000 // ten million tasks
	if count < 0 {
		return maxListPages
	}
	return min((count+MaxListLimit-1)/MaxListLimit+2, maxListPages)
}
