//go:build integration && hardening

package e2e

import (
	"fmt"
	"io"
	"net/http"
	"testing"
)

// The order store joins the bad-input suite's probes: no bad request may
// record or change an order.
func init() {
	badInputProbes = append(badInputProbes, probe{"orders (GET /admin/orders)", orderStoreState})
}

func orderStoreState(t *testing.T) string {
	req, _ := http.NewRequest("GET", env(t, "BASE_URL")+"/admin/orders?limit=100", nil)
	req.Header.Set("Authorization", "Bearer "+adminToken(t))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var list struct {
		Data []struct {
			ID, State string
			Updated   int64
		}
	}
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 {
		t.Fatalf("GET /admin/orders: %d %s", res.StatusCode, body)
	}
	decode(t, response{Status: res.StatusCode, Body: body}, &list)
	return fmt.Sprint(len(list.Data), " orders ", list.Data)
}
