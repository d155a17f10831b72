package httpapi

import "testing"

func TestNoDuplicateKeys(t *testing.T) {
	for body, dup := range map[string]bool{
		`{"a":1,"b":2}`:                   false,
		`{"a":1,"a":2}`:                   true,
		`{"a":{"a":1},"b":{"a":2}}`:       false,
		`{"a":{"x":1,"x":2}}`:             true,
		`{"a":[{"k":1},{"k":2}],"b":"a"}`: false,
		`{"a":[{"k":1,"k":2}]}`:           true,
		`{"a":"b","b":"a","c":["a","a"]}`: false,
		`{"products":[{"product_id":"p","disabled_services":["x"]},{"product_id":"q"}]}`: false,
		`{"a":[],"b":{},"a":null}`: true,
	} {
		err := noDuplicateKeys([]byte(body))
		if (err != nil) != dup {
			t.Errorf("%s: got %v, want duplicate=%v", body, err, dup)
		}
	}
}
