// AuditRules module placeholder
