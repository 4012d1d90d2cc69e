package salesforce

import (
	"net/url"
	"path"
	"regexp"
)

// userIDPattern is a User record id: key prefix 005, 15 or 18 characters.
var userIDPattern = regexp.MustCompile(`^005[a-zA-Z0-9]{12}([a-zA-Z0-9]{3})?$`)

// userIDOf reads the user id from a token response's identity URL (https://host/id/ORGID/USERID),
// "" when it has none.
func userIDOf(identity string) string {
	u, err := url.Parse(identity)
	if err != nil {
		return ""
	}
	if id := path.Base(u.Path); userIDPattern.MatchString(id) {
		return id
	}
	return ""
}

// UserID is the id of the user the client's token acts as, from the identity URL the token
// endpoint answers with (both flows return one), or "" when the endpoint named none. lmoctl audit
// takes it for the operator's user when lmoctl runs as the operator's integration user.
func (c *Client) UserID() string {
	id, _ := c.userID.Load().(string)
	return id
}
