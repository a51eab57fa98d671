// AuditJSON module placeholder
