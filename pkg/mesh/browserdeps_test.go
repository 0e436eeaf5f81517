//go:build !js

package mesh

import (
	"os/exec"
	"strings"
	"testing"
)

// TestBrowserBuildLinksNoPion guards the browser build's size: there the
// page's RTCPeerConnection does pion's job (rtc_js.go), and pion would bring
// its ICE, DTLS and SCTP stacks (crypto/tls, x509) into the wasm.
func TestBrowserBuildLinksNoPion(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command")
	}
	cmd := exec.Command(goBin, "list", "-deps", ".")
	cmd.Env = append(cmd.Environ(), "GOOS=js", "GOARCH=wasm")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, pkg := range strings.Fields(string(out)) {
		if strings.HasPrefix(pkg, "github.com/pion/") {
			t.Errorf("the browser build imports %s", pkg)
		}
	}
}
