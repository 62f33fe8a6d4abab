package configs

import (
	"fmt"
	"os"
	"strings"

	"go.yaml.in/yaml/v3"
)

// rawUsers is the part of the file whose map keys are tenant ids, read
// without viper, which lower-cases every map key.
type rawUsers struct {
	Users []struct {
		Name    string            `yaml:"name"`
		Tenants map[string]string `yaml:"tenants"`
	} `yaml:"users"`
}

// restoreTenantKeys puts back the tenant ids of users[].tenants as written
// in the file at path, so that an id with capitals works as written.
func restoreTenantKeys(path string, f *File) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var ru rawUsers
	if err := yaml.Unmarshal(raw, &ru); err != nil {
		return err
	}
	if len(ru.Users) != len(f.Users) {
		return nil // users come from elsewhere (environment); keep viper's view
	}
	for i, u := range ru.Users {
		if u.Name != f.Users[i].Name || len(u.Tenants) != len(f.Users[i].Tenants) {
			continue
		}
		seen := make(map[string]string, len(u.Tenants))
		for id := range u.Tenants {
			if prev, dup := seen[strings.ToLower(id)]; dup {
				return fmt.Errorf("users[%d].tenants: %q and %q differ only in case", i, prev, id)
			}
			seen[strings.ToLower(id)] = id
		}
		f.Users[i].Tenants = u.Tenants
	}
	return nil
}
