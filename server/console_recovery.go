package server

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"
	qrcode "github.com/yeqown/go-qrcode/v2"

	"countersign/store"
	"countersign/views"
	"countersign/webauthn"
)

// The console's side of issue 10: the /recover page (a recovery code, or
// a reset link), the page another device opens from a credential code,
// the session endpoints that finish both and sign in, and the QR code of
// a credential code's link.
const (
	pathRecover               = "/recover"
	pathAddPasskey            = "/add-passkey"
	pathSessionRecovery       = "/session/recovery"
	pathSessionCredentialCode = "/session/credential-code"
	pathSessionQR             = "/session/qr"

	apiRecoverCode           = "/auth/recover/user/code"
	apiRecoverInit           = "/auth/recover/user/init"
	apiRecover               = "/auth/recover/user"
	apiResetInit             = "/auth/recover/reset/init"
	apiCredentialsCode       = "/auth/credentials/code"
	apiCredentialsCodeInit   = "/auth/credentials/code/init"
	apiCredentialsCodeVerify = "/auth/credentials/code/verify"
)

// recoverPage is /recover: with ?reset=<code> a reset link, checked first
// so that a bad one says so at once; otherwise the recovery-code form.
func (s *Server) recoverPage(c echo.Context) error {
	v := views.RecoverView{
		OrgID: c.QueryParam("org"), Username: c.QueryParam("username"),
		CodeURL: apiRecoverCode, InitURL: apiRecoverInit, FinishURL: pathSessionRecovery, LoginURL: pathLogin,
	}
	if code := c.QueryParam("reset"); code != "" {
		u, _, err := s.ceremonies.CheckResetLink(c.Request().Context(), code)
		if err != nil {
			return err
		}
		v.OrgID, v.Username, v.ResetCode, v.InitURL = u.OrgID, u.Username, code, apiResetInit
	}
	if v.OrgID == "" {
		org, err := s.defaultOrgID(c)
		if err != nil {
			return err
		}
		v.OrgID = org
	}
	return s.render(c, http.StatusOK, views.RecoverPage(v))
}

// addPasskeyPage is what the link of a credential code opens.
func (s *Server) addPasskeyPage(c echo.Context) error {
	code := c.QueryParam("code")
	u, err := s.ceremonies.CheckCredentialCode(c.Request().Context(), code)
	if err != nil {
		return err
	}
	return s.render(c, http.StatusOK, views.AddPasskeyPage(views.AddPasskeyView{
		Code: code, Username: u.Username, InitURL: apiCredentialsCodeInit, FinishURL: pathSessionCredentialCode,
	}))
}

// sessionRecovery finishes a recovery from /recover and signs the person
// in with the new passkey, which just proved possession.
func (s *Server) sessionRecovery(c echo.Context) error {
	u, cred, err := s.finishRecovery(c)
	if err != nil {
		return err
	}
	return s.signIn(c, u, cred)
}

// sessionCredentialCode adds the passkey of another device and signs it in.
func (s *Server) sessionCredentialCode(c echo.Context) error {
	u, cred, err := s.finishCodeCredential(c)
	if err != nil {
		return err
	}
	return s.signIn(c, u, cred)
}

type qrRequest struct {
	Text string `json:"text"`
}

// maxQRText bounds what the console asks a QR code of: a link of ours.
const maxQRText = 512

type qrResponse struct {
	Image string `json:"image"` // a data: URL of an SVG image
}

// sessionQR draws the QR code of a link of this console (a credential
// code's), for a signed-in session only: the page shows it as a data: URL
// (CSP img-src data:), and nothing leaves the server.
func (s *Server) sessionQR(c echo.Context) error {
	if _, err := s.sessionCaller(c); err != nil {
		return err
	}
	var req qrRequest
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	if len(req.Text) > maxQRText || !strings.HasPrefix(req.Text, s.opts.Origins[0]+pathAddPasskey+"?") {
		return badRequest("a QR code is drawn only of a link to add a passkey", nil)
	}
	svg, err := qrSVG(req.Text)
	if err != nil {
		return fmt.Errorf("draw qr code: %w", err)
	}
	return c.JSON(http.StatusOK, qrResponse{Image: "data:image/svg+xml;base64," + base64.StdEncoding.EncodeToString(svg)})
}

// qrSVG encodes text as a QR code (go-qrcode: segments, error correction,
// masking) and draws its modules as an SVG path, with the quiet zone of
// four modules the standard asks for.
func qrSVG(text string) ([]byte, error) {
	q, err := qrcode.NewWith(text, qrcode.WithErrorCorrectionLevel(qrcode.ErrorCorrectionMedium))
	if err != nil {
		return nil, err
	}
	w := &svgWriter{}
	if err := q.Save(w); err != nil {
		return nil, err
	}
	return w.out.Bytes(), nil
}

// svgWriter is a go-qrcode Writer that draws the matrix as SVG.
type svgWriter struct{ out bytes.Buffer }

func (w *svgWriter) Write(mat qrcode.Matrix) error {
	bits := mat.Bitmap()
	const quiet = 4
	size := len(bits) + 2*quiet
	fmt.Fprintf(&w.out, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" shape-rendering="crispEdges">`, size, size)
	fmt.Fprintf(&w.out, `<rect width="%d" height="%d" fill="#fff"/><path fill="#000" d="`, size, size)
	for y, row := range bits {
		for x, dark := range row {
			if dark {
				fmt.Fprintf(&w.out, "M%d %dh1v1h-1z", x+quiet, y+quiet)
			}
		}
	}
	w.out.WriteString(`"/></svg>`)
	return nil
}

func (w *svgWriter) Close() error { return nil }

// recoveryPanels are the Credentials page's recovery code and credential
// code panels for the caller.
func (s *Server) recoveryPanels(creds []store.Credential) views.RecoveryPanels {
	p := views.RecoveryPanels{
		InitURL: apiCredentialsInit, CreateURL: apiCredentials, CodeURL: apiCredentialsCode, QRURL: pathSessionQR,
		AddPasskeyURL: s.opts.Origins[0] + pathAddPasskey, CodeTTLSeconds: int(s.ceremonies.MaxCredentialCodeTTL().Seconds()),
	}
	for _, c := range creds {
		if c.Kind == store.CredentialRecoveryKey && c.IsActive {
			p.HasRecoveryKey = true
		}
	}
	return p
}

// backupNudge asks for a backup while the person has one active
// credential at most (a recovery key counts: it is a way back in).
func backupNudge(creds []store.Credential) *views.BackupNudge {
	active := 0
	for _, c := range creds {
		if c.IsActive {
			active++
		}
	}
	if active > 1 {
		return nil
	}
	return &views.BackupNudge{CredentialsURL: pathCredentials}
}

// lastSignIn tells which credential is the person's last active one that
// signs in (Fido2 or Key), whose Deactivate the page disables: the store
// would refuse it.
func lastSignIn(creds []store.Credential) string {
	last, n := "", 0
	for _, c := range creds {
		if c.IsActive && c.Kind != store.CredentialRecoveryKey {
			last, n = c.ID, n+1
		}
	}
	if n == 1 {
		return last
	}
	return ""
}

// errorPageFor names the console's refusals of issue 10 on its error page.
func errorPageFor(e *APIError) (title, msg string, ok bool) {
	switch e.Code {
	case "invalid_code":
		return "This link can't be used", "The link is invalid, has expired or was already used. Ask for a new one.", true
	}
	return "", "", false
}

// recoveryErrors maps issue 10's sentinels to what a client sees; the one
// error mapping (toAPIError) asks it first.
func recoveryErrors(err error) *APIError {
	switch {
	case errors.Is(err, webauthn.ErrCode):
		return &APIError{Status: http.StatusUnauthorized, Code: "invalid_code", Message: "the code or link is invalid, has expired or was already used", Err: err}
	case errors.Is(err, webauthn.ErrRecoveryCredential):
		return &APIError{Status: http.StatusBadRequest, Code: "invalid_recovery_credential", Message: "that recovery code does not match an active recovery key of this account", Err: err}
	case errors.Is(err, store.ErrArchived):
		return &APIError{Status: http.StatusBadRequest, Code: "archived", Message: "an archived credential cannot be activated again", Err: err}
	case errors.Is(err, webauthn.ErrNotRecoverable):
		return &APIError{Status: http.StatusBadRequest, Code: "not_recoverable", Message: "this user is not an active, registered person", Err: err}
	}
	return nil
}
