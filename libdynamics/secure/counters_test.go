package secure

import (
	"slices"
	"testing"

	"github.com/dynamics-go/dynamics/libdynamics/api"
)

type statsProtector struct {
	Off
	s Stats
}

func (p statsProtector) Stats() Stats { return p.s }

// The IPsec counters join an agent's get_status sorted among its own, and
// an agent without IPsec reports none.
func TestAppendCounters(t *testing.T) {
	own := []api.Counter{{Name: "accepted", Value: 3}, {Name: "replies", Value: 4}}
	if got := AppendCounters(slices.Clone(own), Off{}); !slices.Equal(got, own) {
		t.Errorf("without IPsec: %v", got)
	}
	p := statsProtector{s: Stats{IKESAs: 2, Children: 3, IKEInitiated: 1, ESPDrops: 7}}
	p.s.IKE.AuthFailures = 5
	p.s.ESP.PacketsIn, p.s.ESP.PacketsOut = 11, 12
	got := AppendCounters(slices.Clone(own), p)
	want := map[string]uint64{
		"accepted": 3, "replies": 4, "ipsec.ike_sas": 2, "ipsec.child_sas": 3, "ipsec.ike_initiated": 1,
		"ipsec.ike_auth_failures": 5, "ipsec.ike_retransmits": 0, "ipsec.esp_in": 11, "ipsec.esp_out": 12, "ipsec.esp_drops": 7,
	}
	if len(got) != len(want) {
		t.Fatalf("counters %v", got)
	}
	for _, c := range got {
		if v, ok := want[c.Name]; !ok || v != c.Value {
			t.Errorf("%s = %d, want %d (known %t)", c.Name, c.Value, v, ok)
		}
	}
	if !slices.IsSortedFunc(got, func(x, y api.Counter) int {
		if x.Name < y.Name {
			return -1
		}
		if x.Name > y.Name {
			return 1
		}
		return 0
	}) {
		t.Errorf("not sorted by name: %v", got)
	}
}
