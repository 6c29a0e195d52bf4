package hardening

import (
	"fmt"
	"io"
	"net/http"
	"testing"

	"checkoutkit/scripts/e2e/internal/e2e"
)

// orderStoreState is the bad-input suite's probe of the order store: no bad
// request may record or change an order.
func orderStoreState(t *testing.T) string {
	req, _ := http.NewRequest("GET", e2e.Env(t, "BASE_URL")+"/admin/orders?limit=100", nil)
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
	e2e.Decode(t, e2e.Response{Status: res.StatusCode, Body: body}, &list)
	return fmt.Sprint(len(list.Data), " orders ", list.Data)
}
