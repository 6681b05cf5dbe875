package web

import "testing"

func TestShortIDKeepsTheInformativeEnds(t *testing.T) {
	for id, want := range map[string]string{
		"XWDFPDRTNIVCN3XNCNRMR6RK5NIMB6YIUYAPUV5SY7JSQ7QZOCDQ====": "XWDFPDRT…OCDQ", // padding tells keys apart no better than nothing
		"7c71b1bc-10bc-4ac2-a104-b71f95560c8b":                     "7c71b1bc…0c8b",
		"short-id":                                                 "short-id",
		"ABCDEFGHIJKLMN":                                           "ABCDEFGHIJKLMN",
		"ABCDEFGHIJKL====":                                         "ABCDEFGHIJKL====",
	} {
		if got := ShortID(id); got != want {
			t.Errorf("ShortID(%q) = %q, want %q", id, got, want)
		}
	}
}

func TestPersonSaysWhenKeyportKnowsNoName(t *testing.T) {
	const id = "7C71B1BC-10bc-4ac2-a104-b71f95560c8b"
	names := map[string]string{"7c71b1bc-10bc-4ac2-a104-b71f95560c8b": "uma@acme.example"}
	for _, tc := range []struct {
		p            Person
		text, option string
	}{
		{PersonOf(id, names, ""), "uma@acme.example", "uma@acme.example (7C71B1BC…0c8b)"},
		{PersonOf(id, names, "7c71b1bc-10bc-4ac2-a104-b71f95560c8b"), "you (uma@acme.example)", "uma@acme.example (7C71B1BC…0c8b) · you"},
		{PersonOf(id, nil, ""), "7C71B1BC…0c8b (name unknown to Keyport)", "7C71B1BC…0c8b (name unknown to Keyport)"},
		{PersonOf("", names, ""), "unknown user", "unknown user"},
	} {
		if got := tc.p.String(); got != tc.text {
			t.Errorf("%+v String = %q, want %q", tc.p, got, tc.text)
		}
		if got := tc.p.Option(); got != tc.option {
			t.Errorf("%+v Option = %q, want %q", tc.p, got, tc.option)
		}
	}
}
