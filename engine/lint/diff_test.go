package lint

import (
	"strings"
	"testing"

	"github.com/parleyhq/parley/engine/load"
)

func inventoryOf(t *testing.T, name, src string) *Inventory {
	t.Helper()
	f, ds := load.File(name, []byte(src))
	if f == nil || ds.HasErrors() {
		t.Fatalf("%s does not load: %v", name, ds.Err())
	}
	return InventoryOf(f)
}

const diffBase = `parley: 1
id: shop
version: 1
controller: { name: Shop, contact: p@shop.example, privacy_url: https://shop.example/p }
purposes:
  orders: { basis: contract, description: orders }
fields:
  order: { type: text, purpose: orders, retention: 30d }
integrations:
  crm: { url: "https://crm.shop.example/in", purpose: orders, sends: [order] }
start: a
steps:
  a:
    ask: "Order?"
    save: order
  b:
    call: crm
    end: true
`

func TestDiffFlowsAddedAndRemoved(t *testing.T) {
	shop := inventoryOf(t, "shop.yaml", diffBase)
	got := Diff(nil, []*Inventory{shop})
	want := []string{"flow-added shop", "field-added shop order -> text for orders (contract), kept 30d", "recipient-added shop order -> crm (crm.shop.example)"}
	if len(got) != len(want) {
		t.Fatalf("Diff(nothing, shop) = %v, want %v", got, want)
	}
	for i := range want {
		if got[i].String() != want[i] {
			t.Errorf("change %d = %q, want %q", i, got[i].String(), want[i])
		}
	}
	gone := Diff([]*Inventory{shop}, nil)
	if len(gone) != 2 || gone[0].Kind != FlowRemoved || gone[1].Kind != FieldRemoved {
		t.Errorf("Diff(shop, nothing) = %v, want the flow and its field removed", gone)
	}
}

func TestDiffSameIntegrationToAnotherHostIsANewRecipient(t *testing.T) {
	old := inventoryOf(t, "shop.yaml", diffBase)
	moved := inventoryOf(t, "shop.yaml", strings.Replace(diffBase, "crm.shop.example", "crm.elsewhere.example", 1))
	got := Diff([]*Inventory{old}, []*Inventory{moved})
	if len(got) != 1 || got[0].Kind != RecipientAdded || got[0].New != "crm (crm.elsewhere.example)" || got[0].Old != "crm (crm.shop.example)" {
		t.Errorf("Diff = %v, want one recipient-added from crm.shop.example to crm.elsewhere.example", got)
	}
}

func TestDiffIgnoresWordingAndLowerExposure(t *testing.T) {
	old := inventoryOf(t, "shop.yaml", diffBase)
	src := strings.Replace(diffBase, "retention: 30d", "retention: session", 1)
	src = strings.Replace(src, `"Order?"`, `"Which order?"`, 1)
	src = strings.Replace(src, "sends: [order]", "sends: []", 1)
	if got := Diff([]*Inventory{old}, []*Inventory{inventoryOf(t, "shop.yaml", src)}); len(got) != 0 {
		t.Errorf("Diff = %v, want no change for a shorter retention, a removed recipient and new wording", got)
	}
}

func TestRetentionRankOrdersAllForms(t *testing.T) {
	order := []string{"transient", "session", "90m", "12h", "1d", "2w", "30d", "1y", "not-a-retention"}
	for i := 1; i < len(order); i++ {
		if retentionRank(order[i-1]) >= retentionRank(order[i]) {
			t.Errorf("retention %q does not rank below %q", order[i-1], order[i])
		}
	}
}
