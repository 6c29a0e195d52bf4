package worker

import (
	"net/http"
	"sort"
	"strings"
)

// router maps paths to handlers by method. Paths are exact ("/config") or
// patterns with named segments ("/admin/payment_intents/{id}/capture"); a
// matched segment is available to the handler as r.PathValue("id"). Segments
// never match empty strings or span slashes.
type router struct {
	exact    map[string]route
	patterns []patternRoute
}

// route is one path's handlers by method.
type route map[string]http.HandlerFunc

type patternRoute struct {
	segments []string // "{name}" marks a wildcard segment
	route    route
}

func newRouter() *router { return &router{exact: map[string]route{}} }

// handle registers h for method on path.
func (rt *router) handle(method, path string, h http.HandlerFunc) {
	if !strings.Contains(path, "{") {
		if rt.exact[path] == nil {
			rt.exact[path] = route{}
		}
		rt.exact[path][method] = h
		return
	}
	segs := strings.Split(strings.Trim(path, "/"), "/")
	for i := range rt.patterns {
		if equalSegments(rt.patterns[i].segments, segs) {
			rt.patterns[i].route[method] = h
			return
		}
	}
	rt.patterns = append(rt.patterns, patternRoute{segments: segs, route: route{method: h}})
}

func equalSegments(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// lookup finds the route for r's path. If r is non-nil, wildcard values are
// set on it (r.SetPathValue).
func (rt *router) lookup(path string, r *http.Request) (route, bool) {
	if h, ok := rt.exact[path]; ok {
		return h, true
	}
	if len(rt.patterns) == 0 || !strings.HasPrefix(path, "/") {
		return nil, false
	}
	segs := strings.Split(strings.TrimPrefix(path, "/"), "/")
next:
	for _, p := range rt.patterns {
		if len(p.segments) != len(segs) {
			continue
		}
		for i, s := range p.segments {
			if isWildcard(s) {
				if segs[i] == "" {
					continue next
				}
			} else if s != segs[i] {
				continue next
			}
		}
		if r != nil {
			for i, s := range p.segments {
				if isWildcard(s) {
					r.SetPathValue(s[1:len(s)-1], segs[i])
				}
			}
		}
		return p.route, true
	}
	return nil, false
}

func isWildcard(s string) bool { return len(s) > 2 && s[0] == '{' && s[len(s)-1] == '}' }

// methods lists the route's methods, HEAD included wherever GET is.
func (r route) methods() []string {
	out := make([]string, 0, len(r)+1)
	for m := range r {
		out = append(out, m)
		if m == http.MethodGet {
			out = append(out, http.MethodHead)
		}
	}
	sort.Strings(out)
	return out
}
