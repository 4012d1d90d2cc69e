package salesforce

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// tokenPath is appended to the configured login URL; the token endpoint is never taken from a
// response.
const tokenPath = "/services/oauth2/token"

// assertionLifetime is the JWT bearer assertion's exp; Salesforce accepts at most 3 minutes.
const assertionLifetime = 2 * time.Minute

// grantJWTBearer is the grant type of the JWT bearer flow.
const grantJWTBearer = "urn:ietf:params:oauth:grant-type:jwt-bearer"

// tokenResponse is the successful answer of the token endpoint.
type tokenResponse struct {
	AccessToken string `json:"access_token"`
	InstanceURL string `json:"instance_url"`
	TokenType   string `json:"token_type"`
	// ID is the identity URL, …/id/ORGID/USERID: the user the token acts as.
	ID string `json:"id"`
}

// oauthError is the refusal of the token endpoint.
type oauthError struct {
	Error       string `json:"error"`
	Description string `json:"error_description"`
}

// assertion signs the JWT bearer assertion: iss = client id, sub = username, aud = the audience (a
// single string, as Salesforce expects: login.salesforce.com, test.salesforce.com or a site URL).
func (c *Client) assertion() (string, error) {
	now := c.now()
	claims := jwt.MapClaims{
		"iss": c.s.jwt.ClientID,
		"sub": c.s.jwt.Username,
		"aud": c.s.jwt.Audience,
		"exp": jwt.NewNumericDate(now.Add(assertionLifetime)),
	}
	signed, err := jwt.NewWithClaims(jwt.SigningMethodRS256, claims).SignedString(c.s.jwtKey)
	if err != nil {
		return "", fmt.Errorf("salesforce: signing the JWT bearer assertion failed")
	}
	return signed, nil
}

// fetchToken runs the configured OAuth flow against loginURL + /services/oauth2/token and returns
// the access token, after checking that the org's instance_url is the configured instance.
func (c *Client) fetchToken(ctx context.Context) (token string, err error) {
	form := url.Values{}
	switch {
	case c.s.jwt != nil:
		a, err := c.assertion()
		if err != nil {
			return "", err
		}
		form.Set("grant_type", grantJWTBearer)
		form.Set("assertion", a)
	default:
		form.Set("grant_type", "client_credentials")
		form.Set("client_id", c.s.cc.ClientID)
		form.Set("client_secret", c.s.cc.ClientSecret)
	}

	if err := ctx.Err(); err != nil {
		return "", err
	}
	start := c.now()
	status := 0
	defer func() { c.observe(OpToken, status, err, start) }()

	req, err := http.NewRequestWithContext(withOperation(ctx, OpToken), http.MethodPost, c.s.login.String()+tokenPath, strings.NewReader(form.Encode()))
	if err != nil {
		return "", fmt.Errorf("%w: token endpoint: %s", ErrInvalidConfig, c.s.login.Redacted())
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := c.direct.Do(req)
	if err != nil {
		return "", fmt.Errorf("salesforce: token request: %w", unwrapTransportError(err))
	}
	defer func() { _ = resp.Body.Close() }()
	status = resp.StatusCode
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", fmt.Errorf("salesforce: token response: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return "", c.decodeAuthError(resp.StatusCode, body)
	}
	var tr tokenResponse
	if err := json.Unmarshal(body, &tr); err != nil {
		return "", malformed("token response is not the expected JSON object")
	}
	if tr.AccessToken == "" || strings.ContainsAny(tr.AccessToken, " \t\r\n") {
		return "", malformed("token response has no usable access_token")
	}
	if err := c.checkInstanceURL(tr.InstanceURL); err != nil {
		return "", err
	}
	c.userID.Store(userIDOf(tr.ID))
	return tr.AccessToken, nil
}

// checkInstanceURL pins the org: the token endpoint must name the configured instance.
func (c *Client) checkInstanceURL(got string) error {
	u, err := url.Parse(got)
	if err != nil || got == "" {
		return malformed("token response instance_url %q is not a URL", truncate(got, 256))
	}
	want := c.s.instance
	if !strings.EqualFold(u.Scheme, want.Scheme) || !strings.EqualFold(u.Host, want.Host) {
		return &AuthError{
			StatusCode:  http.StatusOK,
			Code:        "instance_url_mismatch",
			Description: fmt.Sprintf("the token endpoint issued a token for %s, not the configured %s", truncate(u.Redacted(), 256), want.String()),
		}
	}
	return nil
}

// decodeAuthError turns a refused token request into an *AuthError without any secret in it.
func (c *Client) decodeAuthError(status int, body []byte) *AuthError {
	var oe oauthError
	if err := json.Unmarshal(body, &oe); err != nil || oe.Error == "" {
		return &AuthError{StatusCode: status, Description: http.StatusText(status)}
	}
	return &AuthError{
		StatusCode:  status,
		Code:        truncate(c.s.redactSecrets(oe.Error), 128),
		Description: truncate(c.s.redactSecrets(oe.Description), maxErrorMessage),
	}
}
