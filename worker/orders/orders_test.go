package orders

import (
	"testing"
)

func TestMergeMovesOnlyForward(t *testing.T) {
	o := paidOrder("cs_test_a")
	late := paidOrder("cs_test_a")
	late.Payment, late.AmountReceived = AwaitingPayment, 0
	if o.Merge(late); o.State != Paid || o.AmountReceived != 2500 {
		t.Errorf("an older snapshot moved the order back: %s %d", o.State, o.AmountReceived)
	}
	failed := paidOrder("cs_test_a")
	failed.Payment, failed.DeclineCode = Failed, "stolen_card"
	if o.Merge(failed); o.State != Paid || o.DeclineCode != "" {
		t.Errorf("a late failure changed a paid order: %s %q", o.State, o.DeclineCode)
	}
}

func TestMergeKeepsFirstLines(t *testing.T) {
	o := paidOrder("cs_test_a")
	other := paidOrder("cs_test_a")
	other.Lines = []Line{{Product: "poster", Quantity: 9, UnitAmount: 1, AmountTotal: 9}}
	o.Merge(other)
	if len(o.Lines) != 1 || o.Lines[0].Product != "tshirt" {
		t.Errorf("lines replaced: %+v", o.Lines)
	}
}

func TestCheckNeedsReview(t *testing.T) {
	cases := []struct {
		name     string
		payment  State
		received int64
		lines    []Line
		want     State
	}{
		{"exact", Paid, 2500, []Line{{Quantity: 1, AmountTotal: 2500}}, Paid},
		{"less than the lines", Paid, 500, []Line{{Quantity: 1, AmountTotal: 2500}}, NeedsReview},
		{"more, automatic", Paid, 3000, []Line{{Quantity: 1, AmountTotal: 2500}}, NeedsReview},
		{"more, captured after an increment", Captured, 3000, []Line{{Quantity: 1, AmountTotal: 2500}}, Captured},
		{"less, captured", Captured, 2000, []Line{{Quantity: 1, AmountTotal: 2500}}, NeedsReview},
		{"no lines", Paid, 2500, nil, NeedsReview},
		{"free", Paid, 0, []Line{{Quantity: 1, AmountTotal: 0}}, Paid},
		{"not paid yet", AwaitingPayment, 0, []Line{{Quantity: 1, AmountTotal: 2500}}, AwaitingPayment},
	}
	for _, c := range cases {
		o := &Order{Payment: c.payment, AmountReceived: c.received, Lines: c.lines}
		o.Check()
		o.Derive()
		if o.State != c.want {
			t.Errorf("%s: got %s (%s), want %s", c.name, o.State, o.Review, c.want)
		}
		if !o.Fulfillable() != (c.want != Paid && c.want != Captured) {
			t.Errorf("%s: fulfillable=%v in state %s", c.name, o.Fulfillable(), o.State)
		}
	}
}

func TestDeriveRefundsAndDisputes(t *testing.T) {
	o := paidOrder("cs_test_a")
	o.Merge(&Order{ID: o.ID, Payment: Paid, AmountRefunded: 500})
	if o.State != PartiallyRefunded || o.Fulfillable() {
		t.Errorf("partial refund: %s", o.State)
	}
	o.Merge(&Order{ID: o.ID, Payment: Paid, AmountRefunded: 200}) // an older snapshot
	if o.AmountRefunded != 500 {
		t.Errorf("refunded went down to %d", o.AmountRefunded)
	}
	o.Merge(&Order{ID: o.ID, Payment: Paid, Dispute: DisputeOpen})
	if o.State != Disputed {
		t.Errorf("dispute: %s", o.State)
	}
	o.Merge(&Order{ID: o.ID, Payment: Paid, Dispute: DisputeWon})
	if o.State != PartiallyRefunded {
		t.Errorf("dispute won: %s, want the state from before", o.State)
	}
	o.Merge(&Order{ID: o.ID, Payment: Paid, Dispute: DisputeOpen}) // a late "created"
	if o.State != PartiallyRefunded {
		t.Errorf("a late dispute.created reopened a closed dispute: %s", o.State)
	}
	o.Merge(&Order{ID: o.ID, Payment: Paid, AmountRefunded: 2500})
	if o.State != Refunded || o.Holds() {
		t.Errorf("full refund: %s, holds=%v", o.State, o.Holds())
	}
	lost := paidOrder("cs_test_b")
	lost.Merge(&Order{ID: lost.ID, Payment: Paid, Dispute: DisputeLoss})
	if lost.State != DisputeLost || !lost.Holds() {
		t.Errorf("dispute lost: %s, holds=%v (the goods are gone: no stock back)", lost.State, lost.Holds())
	}
}

func TestValidRef(t *testing.T) {
	for ref, want := range map[string]bool{"ord_0123abcd": true, "ord_": false, "ord_a/b": false, "cs_test_1": false, "ord_a?x=1": false} {
		if ValidRef(ref) != want {
			t.Errorf("ValidRef(%q) = %v", ref, !want)
		}
	}
}
