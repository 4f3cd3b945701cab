package config_test

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/dynamics-go/dynamics/libdynamics/config"
)

type authorized struct {
	Home netip.Addr `dyn:"0"`
	SPI  uint32     `dyn:"1"`
	Line int        `dyn:",line"`
}

type haConfig struct {
	HA         netip.Addr    `dyn:"HAIPAddress,required"`
	Prefix     netip.Prefix  `dyn:"HomeNetPrefix,required"`
	Lifetime   time.Duration `dyn:"MaxBindingLifetime,default=300"`
	Authorized []authorized  `dyn:"AUTHORIZEDLIST"`
}

func ExampleDecode() {
	const text = `HAIPAddress   10.1.0.1
HomeNetPrefix 10.1.0.0/24
AUTHORIZEDLIST_BEGIN
10.1.0.10 1000
10.2.0.11 1001   # not a home address
AUTHORIZEDLIST_END
`
	f, err := config.Parse("dynhad.conf", strings.NewReader(text))
	if err != nil {
		fmt.Println(err)
		return
	}
	var c haConfig
	if err := config.Decode(f, &c); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(c.HA, c.Prefix, c.Lifetime)
	for _, a := range c.Authorized {
		if !c.Prefix.Contains(a.Home) {
			fmt.Println(f.ErrorfAt(a.Line, "AUTHORIZEDLIST", "%s is outside HomeNetPrefix", a.Home))
		}
	}
	// Output:
	// 10.1.0.1 10.1.0.0/24 5m0s
	// dynhad.conf:5: AUTHORIZEDLIST: 10.2.0.11 is outside HomeNetPrefix
}

func ExampleError() {
	f, _ := config.Parse("dynhad.conf", strings.NewReader("HAIPAddress 10.1.0.300\nHomeNetPrefix 10.1.0.0/24\n"))
	err := config.Decode(f, &haConfig{})
	var ce *config.Error
	if errors.As(err, &ce) && errors.Is(err, config.ErrInvalid) {
		fmt.Println(ce.Line, ce.Label)
	}
	fmt.Println(err)
	// Output:
	// 1 HAIPAddress
	// dynhad.conf:1: HAIPAddress: "10.1.0.300" is not an IPv4 address
}
