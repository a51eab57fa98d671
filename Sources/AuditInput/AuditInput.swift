// AuditInput module placeholder
