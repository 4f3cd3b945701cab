package cli

import (
	"net/netip"
	"time"
)

func mustAddr(s string) netip.Addr { return netip.MustParseAddr(s) }

func waitTimeout() <-chan time.Time { return time.After(5 * time.Second) }
