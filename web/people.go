package web

import "strings"

// Person is a CXone user as Keyport can name them. CXone's key API gives
// bare user ids; Keyport knows a name only for users who connected (their
// token's name claim), and says so honestly for the others.
type Person struct {
	ID   string
	Name string // "" when Keyport has never seen this user's token
	You  bool   // the connection's own user
}

// PersonOf names id from names (keyed by the id in lower case, as
// keys.Service.UserNames returns them); you is the connection's user id.
func PersonOf(id string, names map[string]string, you string) Person {
	return Person{ID: id, Name: names[strings.ToLower(id)], You: id != "" && strings.EqualFold(id, you)}
}

// unknownName is what stands for a name Keyport has never seen.
const unknownName = "name unknown to Keyport"

// String is the person in running text and the Owner column: the name, or
// the shortened id with a note that Keyport does not know the name.
func (p Person) String() string {
	var s string
	switch {
	case p.ID == "":
		return "unknown user"
	case p.Name != "":
		s = p.Name
	default:
		s = ShortID(p.ID) + " (" + unknownName + ")"
	}
	if p.You {
		return "you (" + s + ")"
	}
	return s
}

// Option is the person as a select's option text: "name (short id)".
func (p Person) Option() string {
	if p.ID == "" {
		return "unknown user"
	}
	s := ShortID(p.ID) + " (" + unknownName + ")"
	if p.Name != "" {
		s = p.Name + " (" + ShortID(p.ID) + ")"
	}
	if p.You {
		s += " · you"
	}
	return s
}

// ShortID shortens a long id to its first 8 and last 4 characters, as the
// AWS and GitHub consoles do; ids of 14 characters or fewer stay whole.
// The tail skips base32 padding: every CXone key id ends in "====", which
// tells two keys apart no better than nothing. Ids are ASCII (CXone's
// contract), so bytes are characters.
func ShortID(id string) string {
	body := strings.TrimRight(id, "=")
	if len(id) <= 14 || len(body) <= 12 {
		return id
	}
	return id[:8] + "…" + body[len(body)-4:]
}
