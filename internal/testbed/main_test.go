package testbed

import (
	"os"
	"testing"
)

func TestMain(m *testing.M) {
	stop := CloseOnSignal()
	code := m.Run()
	stop()
	os.Exit(code)
}
