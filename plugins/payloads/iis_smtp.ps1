# Copyright: Contributors to the mailrelay.smtp collection
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

<#
.SYNOPSIS
Reads the IIS SMTP virtual servers and their domains from the IIS 6 metabase (Mode read), or changes
them with a list of typed operations and reads them again (Mode apply).

.DESCRIPTION
Fixed payload of the mailrelay.smtp collection, run through ansible.windows.win_powershell. Everything
it needs arrives as parameters; it returns one JSON document in $Ansible.Result (wire format in
plugins/module_utils/_metabase.py):

    {"contract": 1, "service": {"status": "Running"},
     "servers": [{"index": 1, "properties": {"ServerComment": "...", ...},
                  "domains": [{"name": "example.org", "properties": {...}}] or null}]}

Mode read changes nothing, so it also runs in check mode. Mode apply, never sent in check mode, first
executes Operations in order, each naming its virtual server by ServerComment, then returns the same
document, read by the same code:

    create_server  {server, bindings, children}  IIsSmtpServer at the next free index, then its child keys
                                                 ({name, class, path?}: the Domain container, ROOT)
    delete_server  {server}
    start_server   {server, command}             ServerCommand = command, a bounded wait for ServerState 2,
                                                 then ADSI Start() and another wait if it did not follow
    stop_server    {server, command}             the same with ServerState 4 and ADSI Stop()
    create_domain  {server, domain, container_class}
                                                 IIsSmtpDomain under /Domain (created first if missing)
    delete_domain  {server, domain}
    set_property   {server, domain?, name, type, via, value}
                   DWORD/BOOL/STRING/MULTISZ/BINARY through ADSI, IPSECURITY through the
                   IIsIPSecurity object, BINARY via 'wmi' through IIsSmtpServerSetting
    set_secret     {server, domain?, name, secret}  value taken from the Secrets parameter

ADSI (IIS://localhost/SMTPSVC) serves every property except those marked "wmi", which come from
root\MicrosoftIISv2 IIsSmtpServerSetting (RelayIpList arrives there as uint8[]). Binary values are
base64. SECRET properties (RoutePassword) are reported as set or not set; their values arrive as one
SecureString holding a JSON object (key -> value), never in Operations.
#>
[CmdletBinding(SupportsShouldProcess)]
param(
    # read: return the state and change nothing; apply: execute Operations, then return the state.
    [Parameter(Mandatory)]
    [ValidateSet('read', 'apply')]
    [string]$Mode,
    # "Name:TYPE:adsi|wmi" for every virtual server property to read.
    [string[]]$ServerProperties = @(),
    # "Name:TYPE:adsi" for every domain property to read.
    [string[]]$DomainProperties = @(),
    # '' no domains, '*' the domains of every virtual server, else those of the server with this ServerComment.
    [string]$DomainsOf = '',
    # Mode apply: the typed operations (dictionaries), executed in order.
    [object[]]$Operations = @(),
    # Mode apply: JSON object of the secrets that set_secret operations name.
    [SecureString]$Secrets
)

$ErrorActionPreference = 'Stop'

#region reader (both modes)
$PropertyTypes = @('DWORD', 'BOOL', 'STRING', 'MULTISZ', 'BINARY', 'IPSECURITY', 'SECRET')

function ConvertTo-PropertySpec {
    param([string[]]$Text)
    $specs = [Collections.Generic.List[object]]::new()
    foreach ($item in $Text) {
        $parts = $item -split ':'
        $valid = $parts.Count -eq 3 -and $parts[0] -match '^[A-Za-z0-9]+$'
        if (-not $valid -or $PropertyTypes -notcontains $parts[1] -or @('adsi', 'wmi') -notcontains $parts[2]) {
            throw "MAILRELAY:bad_spec: '$item' is not Name:TYPE:adsi|wmi"
        }
        $specs.Add(@{ Name = $parts[0]; Type = $parts[1]; Via = $parts[2] })
    }
    , $specs
}

function Get-SmtpService {
    $service = [ADSI]'IIS://localhost/SMTPSVC'
    try {
        $service.psbase.RefreshCache()
    }
    catch {
        throw "MAILRELAY:smtp_missing: the IIS 6 metabase has no SMTPSVC key ($($_.Exception.Message))"
    }
    $service
}

function Get-WmiServerSetting {
    $byName = @{}
    try {
        $all = Get-WmiObject -Namespace 'root\MicrosoftIISv2' -Class 'IIsSmtpServerSetting'
    }
    catch {
        throw "MAILRELAY:wmi_missing: root\MicrosoftIISv2 cannot be read ($($_.Exception.Message))"
    }
    foreach ($setting in @($all)) {
        $byName[[string]$setting.Name] = $setting
    }
    $byName
}

function ConvertTo-StringArray {
    param($Value)
    $list = [Collections.Generic.List[string]]::new()
    foreach ($item in @($Value)) {
        if ($null -ne $item) {
            $list.Add([string]$item)
        }
    }
    , $list.ToArray()
}

function Read-IPSecurity {
    param($Value)
    # A new server with nothing inherited may have no IIsIPSecurity object at all.
    if ($null -eq $Value) {
        return $null
    }
    $get = [Reflection.BindingFlags]'Public, Instance, GetProperty'
    $type = $Value.GetType()
    @{
        grant_by_default = [bool]$type.InvokeMember('GrantByDefault', $get, $null, $Value, $null)
        ip_grant = ConvertTo-StringArray -Value $type.InvokeMember('IPGrant', $get, $null, $Value, $null)
        ip_deny = ConvertTo-StringArray -Value $type.InvokeMember('IPDeny', $get, $null, $Value, $null)
    }
}

function Read-AdsiValue {
    param($Entry, $Spec)
    $values = $Entry.psbase.Properties[$Spec.Name]
    if ($null -eq $values -or $values.Count -eq 0) {
        return $null
    }
    $value = $values.Value
    switch ($Spec.Type) {
        'DWORD' {
            return [long]$value
        }
        'BOOL' {
            return [bool]$value
        }
        'STRING' {
            return [string]$value
        }
        'MULTISZ' {
            return , (ConvertTo-StringArray -Value $value)
        }
        'BINARY' {
            return [Convert]::ToBase64String([byte[]]$value)
        }
        'IPSECURITY' {
            return Read-IPSecurity -Value $value
        }
        'SECRET' {
            return (-not [string]::IsNullOrEmpty([string]$value))
        }
    }
}

function Read-WmiValue {
    param($Setting, $Spec)
    if ($Spec.Type -ne 'BINARY') {
        throw "MAILRELAY:bad_spec: only BINARY properties are read through WMI, not $($Spec.Name)"
    }
    if ($null -eq $Setting) {
        return $null
    }
    $value = $Setting.psbase.GetPropertyValue($Spec.Name)
    if ($null -eq $value) {
        return $null
    }
    [Convert]::ToBase64String([byte[]]$value)
}

function Read-Properties {
    param($Entry, $Setting, $Specs)
    $properties = @{}
    foreach ($spec in $Specs) {
        try {
            if ($spec.Via -eq 'wmi') {
                $properties[$spec.Name] = Read-WmiValue -Setting $Setting -Spec $spec
            }
            else {
                $properties[$spec.Name] = Read-AdsiValue -Entry $Entry -Spec $spec
            }
        }
        catch {
            if ($_.Exception.Message -like 'MAILRELAY:*') {
                throw
            }
            throw "MAILRELAY:read_failed: $($spec.Name) of $($Entry.psbase.Path): $($_.Exception.Message)"
        }
    }
    $properties
}

function Read-Domains {
    param([int]$Index, $Specs)
    $domains = [Collections.Generic.List[object]]::new()
    $container = [ADSI]('IIS://localhost/SMTPSVC/' + $Index + '/Domain')
    try {
        $children = @($container.psbase.Children)
    }
    catch {
        $children = @()
    }
    foreach ($child in $children) {
        if ($child.psbase.SchemaClassName -ne 'IIsSmtpDomain') {
            continue
        }
        $properties = Read-Properties -Entry $child -Setting $null -Specs $Specs
        $domains.Add(@{ name = [string]$child.psbase.Name; properties = $properties })
    }
    , $domains
}

function Read-State {
    param([string[]]$ServerText, [string[]]$DomainText, [string]$DomainsOf)
    $serverSpecs = ConvertTo-PropertySpec -Text $ServerText
    $domainSpecs = ConvertTo-PropertySpec -Text $DomainText
    foreach ($spec in $domainSpecs) {
        if ($spec.Via -ne 'adsi') {
            throw "MAILRELAY:bad_spec: domain property $($spec.Name) is read through ADSI only"
        }
    }
    $service = Get-SmtpService
    $wmi = @{}
    foreach ($spec in $serverSpecs) {
        if ($spec.Via -eq 'wmi') {
            $wmi = Get-WmiServerSetting
            break
        }
    }
    $servers = [Collections.Generic.List[object]]::new()
    foreach ($child in $service.psbase.Children) {
        if ($child.psbase.SchemaClassName -ne 'IIsSmtpServer') {
            continue
        }
        $index = [int]$child.psbase.Name
        $properties = Read-Properties -Entry $child -Setting $wmi[('SmtpSvc/' + $index)] -Specs $serverSpecs
        $domains = $null
        if ($DomainsOf -eq '*' -or ($DomainsOf -ne '' -and [string]$properties['ServerComment'] -eq $DomainsOf)) {
            $domains = Read-Domains -Index $index -Specs $domainSpecs
        }
        $servers.Add(@{ index = $index; properties = $properties; domains = $domains })
    }
    $status = $null
    $smtpService = Get-Service -Name 'SMTPSVC' -ErrorAction SilentlyContinue
    if ($null -ne $smtpService) {
        $status = [string]$smtpService.Status
    }
    @{ contract = 1; service = @{ status = $status }; servers = $servers }
}
#endregion reader

#region operations (mode apply only)
$KnownOperations = @('create_server', 'delete_server', 'start_server', 'stop_server', 'create_domain', 'delete_domain', 'set_property', 'set_secret')
$script:ServerCache = @{}
$script:SecretTable = $null

function Find-Server {
    param([string]$Name)
    $found = [Collections.Generic.List[object]]::new()
    foreach ($child in (Get-SmtpService).psbase.Children) {
        if ($child.psbase.SchemaClassName -eq 'IIsSmtpServer' -and [string]$child.psbase.Properties['ServerComment'].Value -eq $Name) {
            $found.Add($child)
        }
    }
    if ($found.Count -gt 1) {
        throw "MAILRELAY:ambiguous_server: $($found.Count) virtual servers are named '$Name'"
    }
    if ($found.Count -eq 0) {
        return $null
    }
    $found[0]
}

function Get-Server {
    param([string]$Name)
    if (-not $script:ServerCache.ContainsKey($Name)) {
        $server = Find-Server -Name $Name
        if ($null -eq $server) {
            throw "MAILRELAY:no_server: there is no virtual server named '$Name'"
        }
        $script:ServerCache[$Name] = $server
    }
    $script:ServerCache[$Name]
}

function Get-DomainContainer {
    param($Server)
    [ADSI]($Server.psbase.Path + '/Domain')
}

function Add-ChildKey {
    param($Parent, [string]$Name, [string]$Class, [string]$Path)
    if ($Name -notmatch '^[A-Za-z]+$' -or $Class -notmatch '^IIs[A-Za-z]+$') {
        throw "MAILRELAY:bad_operation: '$Name' ($Class) is not a metabase key this payload creates"
    }
    # Found by name alone: an existing key is kept whatever class its creator gave it.
    try {
        [void]$Parent.psbase.Children.Find($Name)
        return
    }
    catch {
        $child = $Parent.psbase.Children.Add($Name, $Class)
    }
    if ($Path) {
        $child.psbase.Properties['Path'].Value = $Path
    }
    $child.psbase.CommitChanges()
}

function Get-Target {
    param($Operation)
    $server = Get-Server -Name ([string]$Operation.server)
    if (-not $Operation.domain) {
        return $server
    }
    try {
        return (Get-DomainContainer -Server $server).psbase.Children.Find([string]$Operation.domain, 'IIsSmtpDomain')
    }
    catch {
        throw "MAILRELAY:no_domain: virtual server '$($Operation.server)' has no domain '$($Operation.domain)'"
    }
}

function Get-SecretValue {
    param([string]$Key)
    if ($null -eq $script:SecretTable) {
        if ($null -eq $Secrets) {
            throw "MAILRELAY:no_secret: an operation needs secret '$Key' but no secrets were passed"
        }
        $pointer = [Runtime.InteropServices.Marshal]::SecureStringToBSTR($Secrets)
        try {
            $script:SecretTable = ConvertFrom-Json -InputObject ([Runtime.InteropServices.Marshal]::PtrToStringBSTR($pointer))
        }
        finally {
            [Runtime.InteropServices.Marshal]::ZeroFreeBSTR($pointer)
        }
    }
    $member = $script:SecretTable.PSObject.Properties[$Key]
    if ($null -eq $member) {
        throw "MAILRELAY:no_secret: secret '$Key' was not passed"
    }
    [string]$member.Value
}

function Assert-PropertyName {
    param([string]$Name)
    if ($Name -notmatch '^[A-Za-z0-9]+$') {
        throw "MAILRELAY:bad_operation: '$Name' is not a metabase property name"
    }
    $Name
}

function New-SmtpServer {
    param($Operation)
    $name = [string]$Operation.server
    if ($null -ne (Find-Server -Name $name)) {
        throw "MAILRELAY:server_exists: a virtual server named '$name' exists already"
    }
    $service = Get-SmtpService
    $used = @{}
    foreach ($child in $service.psbase.Children) {
        if ($child.psbase.SchemaClassName -eq 'IIsSmtpServer') {
            $used[[string]$child.psbase.Name] = $true
        }
    }
    $index = 1
    while ($used.ContainsKey([string]$index)) {
        $index++
    }
    $server = $service.psbase.Children.Add([string]$index, 'IIsSmtpServer')
    $server.psbase.Properties['ServerComment'].Value = $name
    $server.psbase.Properties['ServerBindings'].Value = [object[]]@($Operation.bindings)
    $server.psbase.CommitChanges()
    # What IIS 6 Manager creates under a new server: the Domain container and the ROOT virtual directory.
    foreach ($child in @($Operation.children)) {
        Add-ChildKey -Parent $server -Name ([string]$child.name) -Class ([string]$child.class) -Path ([string]$child.path)
    }
    $script:ServerCache[$name] = $server
}

function Remove-SmtpServer {
    param($Operation)
    $server = Get-Server -Name ([string]$Operation.server)
    (Get-SmtpService).psbase.Children.Remove($server)
    $script:ServerCache.Remove([string]$Operation.server)
}

function Wait-ServerState {
    param($Server, [int]$Wanted, [int]$Checks)
    # Bounded wait: $Checks checks half a second apart.
    for ($attempt = 0; $attempt -lt $Checks; $attempt++) {
        $Server.psbase.RefreshCache()
        if ([int]$Server.psbase.Properties['ServerState'].Value -eq $Wanted) {
            return $true
        }
        Start-Sleep -Milliseconds 500
    }
    $false
}

function Invoke-ServerControl {
    param($Operation, [string]$Method, [int]$Wanted)
    $server = Get-Server -Name ([string]$Operation.server)
    $server.psbase.RefreshCache()
    $state = [int]$server.psbase.Properties['ServerState'].Value
    if ($state -eq $Wanted) {
        return
    }
    $smtp = Get-Service -Name 'SMTPSVC' -ErrorAction SilentlyContinue
    if ($null -eq $smtp -or [string]$smtp.Status -ne 'Running') {
        throw "MAILRELAY:service_stopped: the SMTPSVC service is not running"
    }
    # What the IIS console writes (ServerCommand, volatile); the ADSI method is only documented for web
    # and FTP sites, so it is the fallback when ServerState does not follow within 10 seconds.
    try {
        $server.psbase.Properties['ServerCommand'].Value = [int]$Operation.command
        $server.psbase.CommitChanges()
        if (Wait-ServerState -Server $server -Wanted $Wanted -Checks 20) {
            return
        }
    }
    catch {
        $server.psbase.RefreshCache()
    }
    try {
        [void]$server.psbase.Invoke($Method)
    }
    catch {
        throw "MAILRELAY:control_failed: ServerCommand $($Operation.command) and $Method of '$($Operation.server)' failed: $($_.Exception.Message)"
    }
    if (Wait-ServerState -Server $server -Wanted $Wanted -Checks 40) {
        return
    }
    $state = [int]$server.psbase.Properties['ServerState'].Value
    throw "MAILRELAY:control_failed: virtual server '$($Operation.server)' is in state $state after ServerCommand $($Operation.command) and $Method"
}

function New-SmtpDomain {
    param($Operation)
    $name = [string]$Operation.domain
    if ($name -notmatch '^[A-Za-z0-9*][A-Za-z0-9.*-]*$') {
        throw "MAILRELAY:bad_operation: '$name' is not a domain name"
    }
    $server = Get-Server -Name ([string]$Operation.server)
    # A server created by other tools may lack the container that IIS 6 Manager creates.
    Add-ChildKey -Parent $server -Name 'Domain' -Class ([string]$Operation.container_class) -Path ''
    $container = Get-DomainContainer -Server $server
    $domain = $container.psbase.Children.Add($name, 'IIsSmtpDomain')
    $domain.psbase.CommitChanges()
}

function Remove-SmtpDomain {
    param($Operation)
    $domain = Get-Target -Operation $Operation
    $container = Get-DomainContainer -Server (Get-Server -Name ([string]$Operation.server))
    $container.psbase.Children.Remove($domain)
}

function Set-AdsiValue {
    param($Operation)
    $entry = Get-Target -Operation $Operation
    $name = Assert-PropertyName -Name $Operation.name
    $value = $Operation.value
    switch ([string]$Operation.type) {
        'DWORD' {
            $entry.psbase.Properties[$name].Value = [int]$value
        }
        'BOOL' {
            $entry.psbase.Properties[$name].Value = [bool]$value
        }
        'STRING' {
            $entry.psbase.Properties[$name].Value = [string]$value
        }
        'MULTISZ' {
            $items = @($value)
            if ($items.Count -eq 0) {
                $entry.psbase.Properties[$name].Clear()
            }
            else {
                $entry.psbase.Properties[$name].Value = [object[]]$items
            }
        }
        'BINARY' {
            $entry.psbase.Properties[$name].Value = [Convert]::FromBase64String([string]$value)
        }
        default {
            throw "MAILRELAY:bad_operation: type $($Operation.type) is not written through ADSI values"
        }
    }
    $entry.psbase.CommitChanges()
}

function Set-AdsiIPSecurity {
    param($Operation)
    $entry = Get-Target -Operation $Operation
    $name = Assert-PropertyName -Name $Operation.name
    $wanted = $Operation.value
    $set = [Reflection.BindingFlags]'Public, Instance, SetProperty'
    # Public scripts set GrantByDefault first and commit, then set the list on a fresh copy.
    $ipsec = $entry.psbase.Properties[$name].Value
    if ($null -eq $ipsec) {
        # A new server with nothing inherited has no IIsIPSecurity object: write through WMI, as Salt does.
        Set-WmiIPSecurity -Operation $Operation -Wanted $wanted
        return
    }
    [void]$ipsec.GetType().InvokeMember('GrantByDefault', $set, $null, $ipsec, @([bool]$wanted.grant_by_default))
    $entry.psbase.Properties[$name].Value = $ipsec
    $entry.psbase.CommitChanges()
    $entry.psbase.RefreshCache()
    $ipsec = $entry.psbase.Properties[$name].Value
    [void]$ipsec.GetType().InvokeMember('IPGrant', $set, $null, $ipsec, @(, [object[]]@($wanted.ip_grant)))
    [void]$ipsec.GetType().InvokeMember('IPDeny', $set, $null, $ipsec, @(, [object[]]@($wanted.ip_deny)))
    $entry.psbase.Properties[$name].Value = $ipsec
    $entry.psbase.CommitChanges()
}

function Set-WmiIPSecurity {
    param($Operation, $Wanted)
    if ($Operation.domain) {
        throw "MAILRELAY:bad_operation: IPSecurity is written on virtual servers only"
    }
    $server = Get-Server -Name ([string]$Operation.server)
    $settingName = 'SmtpSvc/' + $server.psbase.Name
    $setting = $null
    try {
        foreach ($candidate in @(Get-WmiObject -Namespace 'root\MicrosoftIISv2' -Class 'IIsIPSecuritySetting')) {
            if ([string]$candidate.Name -eq $settingName) {
                $setting = $candidate
            }
        }
    }
    catch {
        throw "MAILRELAY:wmi_missing: root\MicrosoftIISv2 cannot be read ($($_.Exception.Message))"
    }
    if ($null -eq $setting) {
        throw "MAILRELAY:ipsecurity_missing: virtual server '$($Operation.server)' has no IPSecurity object through ADSI or WMI"
    }
    $setting.psbase.SetPropertyValue('GrantByDefault', [bool]$Wanted.grant_by_default)
    $setting.psbase.SetPropertyValue('IPGrant', [string[]]@($Wanted.ip_grant))
    $setting.psbase.SetPropertyValue('IPDeny', [string[]]@($Wanted.ip_deny))
    [void]$setting.psbase.Put()
    $server.psbase.RefreshCache()
}

function Set-WmiValue {
    param($Operation)
    if ([string]$Operation.type -ne 'BINARY' -or $Operation.domain) {
        throw "MAILRELAY:bad_operation: only virtual server BINARY properties are written through WMI"
    }
    $name = Assert-PropertyName -Name $Operation.name
    $server = Get-Server -Name ([string]$Operation.server)
    $settingName = 'SmtpSvc/' + $server.psbase.Name
    $setting = (Get-WmiServerSetting)[$settingName]
    if ($null -eq $setting) {
        throw "MAILRELAY:wmi_missing: root\MicrosoftIISv2 has no IIsSmtpServerSetting named $settingName"
    }
    # Salt's finding: write through the whole object; a selected-properties object fails (COM -2147352567).
    $setting.psbase.SetPropertyValue($name, [Convert]::FromBase64String([string]$Operation.value))
    [void]$setting.psbase.Put()
    # Drop ADSI's cached copy of the key so a later ADSI commit cannot write the old value back.
    $server.psbase.RefreshCache()
}

function Set-PropertyValue {
    param($Operation)
    if ([string]$Operation.via -eq 'wmi') {
        Set-WmiValue -Operation $Operation
    }
    elseif ([string]$Operation.type -eq 'IPSECURITY') {
        Set-AdsiIPSecurity -Operation $Operation
    }
    else {
        Set-AdsiValue -Operation $Operation
    }
}

function Set-AdsiSecret {
    param($Operation)
    $entry = Get-Target -Operation $Operation
    $name = Assert-PropertyName -Name $Operation.name
    $entry.psbase.Properties[$name].Value = Get-SecretValue -Key ([string]$Operation.secret)
    $entry.psbase.CommitChanges()
}
#endregion operations

if ($Mode -eq 'apply') {
    # Refuse the whole list before changing anything if one operation is unknown.
    foreach ($operation in $Operations) {
        if ($KnownOperations -notcontains [string]$operation.op) {
            throw "MAILRELAY:bad_operation: unknown operation '$($operation.op)'"
        }
    }
    # The controller never applies in check mode; should it happen, -WhatIf stops here, before any change.
    if (-not $PSCmdlet.ShouldProcess('IIS SMTP metabase', 'apply operations')) {
        throw 'MAILRELAY:check_mode: mode apply changes the host and does not run in check mode'
    }
    foreach ($operation in $Operations) {
        switch ([string]$operation.op) {
            'create_server' {
                New-SmtpServer -Operation $operation
            }
            'delete_server' {
                Remove-SmtpServer -Operation $operation
            }
            'start_server' {
                Invoke-ServerControl -Operation $operation -Method 'Start' -Wanted 2
            }
            'stop_server' {
                Invoke-ServerControl -Operation $operation -Method 'Stop' -Wanted 4
            }
            'create_domain' {
                New-SmtpDomain -Operation $operation
            }
            'delete_domain' {
                Remove-SmtpDomain -Operation $operation
            }
            'set_property' {
                Set-PropertyValue -Operation $operation
            }
            'set_secret' {
                Set-AdsiSecret -Operation $operation
            }
        }
    }
}
elseif ($Operations.Count -gt 0) {
    throw 'MAILRELAY:bad_operation: mode read takes no operations'
}

$state = Read-State -ServerText $ServerProperties -DomainText $DomainProperties -DomainsOf $DomainsOf
$Ansible.Changed = ($Mode -eq 'apply') -and ($Operations.Count -gt 0)
$Ansible.Result = ConvertTo-Json -InputObject $state -Depth 10 -Compress
